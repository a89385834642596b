"""Engines for the staging database; migrating it (once per deployment) and checking it is at head."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

from bookspot_tripletex import settings

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATE_COMMAND = "python -m bookspot_tripletex db migrate"


class StagingNotAtHead(RuntimeError):
    """The staging schema is older (or newer) than the code: run the migration first."""


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    url = url or settings.staging_url()
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the staging migrations have {len(heads)} heads: {', '.join(heads)}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the staging schema to the newest Alembic revision (idempotent)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        alembic_log.setLevel(level)


def require_head(engine: Engine) -> str:
    """The staging revision, which must be the code's head; else a message saying what to run."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = "has no staging schema" if current is None else f"is at revision {current}"
        raise StagingNotAtHead(
            f"the staging database {where} {state}; this code needs revision {head}. "
            f"Run `{MIGRATE_COMMAND}` once for this deployment (with the same BOOKSPOT_STAGING_URL)."
        )
    return current
