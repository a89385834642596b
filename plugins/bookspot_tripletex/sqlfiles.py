"""Load the SQL of a pipeline step from the package's `sql/` folder (the project's top-level `sql/`)."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

from bookspot_tripletex.settings import PACKAGE_DIR

SQL_DIR = PACKAGE_DIR / "sql"


@cache
def sql(step: str) -> TextClause:
    return text((SQL_DIR / f"{step}.sql").read_text(encoding="utf-8"))
