"""Alembic migrations produce exactly the tables schema.py declares, and are idempotent."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bookspot_tripletex.staging.db import migrate
from bookspot_tripletex.staging.schema import metadata


def test_migrated_database_matches_the_schema(staging_engine) -> None:  # type: ignore[no-untyped-def]
    with staging_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_migrating_twice_changes_nothing(staging_engine) -> None:  # type: ignore[no-untyped-def]
    migrate(staging_engine)
    with staging_engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
