"""Load the SQL of a pipeline step from the project's sql/ folder."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

from bookspot_tripletex.settings import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"


@cache
def sql(step: str) -> TextClause:
    return text((SQL_DIR / f"{step}.sql").read_text(encoding="utf-8"))
