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


def test_upgrade_from_the_first_revision_keeps_data(staging_url: str, example_tenant_file) -> None:  # type: ignore[no-untyped-def]
    from alembic import command
    from sqlalchemy import text

    from bookspot_tripletex.staging.db import alembic_config, make_engine

    engine = make_engine(staging_url)
    cfg = alembic_config(staging_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (tenant_id, name, timezone, currency, start_date, active,"
                " tripletex_conn_id, bookspot_conn_id, vat_tolerance_ore, updated_at)"
                " VALUES ('t', 'T', 'Europe/Oslo', 'NOK', '2026-01-01', true, 'a', 'b', 100,"
                " '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO mapping_versions"
                " (tenant_id, valid_from, revision, content_hash, vat_types, imported_at)"
                " VALUES ('t', '2026-01-01', 1, 'h', '{}', '2026-01-01 00:00:00')"
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT tenant_id, attach_report FROM tenants")).one() == ("t", False)
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()


def test_staging_keys_compare_in_byte_order_on_postgresql(staging_engine) -> None:  # type: ignore[no-untyped-def]
    """Migration 0014: the text keys of the bulk tables are COLLATE "C" on PostgreSQL (their B-trees
    compare with memcmp, not the database's locale); SQLite's columns have no collation."""
    from sqlalchemy import inspect

    keys = {"tenant_id", "transaction_id"}
    for table in ("transactions", "transaction_lines"):
        columns = {c["name"]: c for c in inspect(staging_engine).get_columns(table)}
        for name in keys:
            collation = getattr(columns[name]["type"], "collation", None)
            assert collation == ("C" if staging_engine.dialect.name == "postgresql" else None), (table, name)
        others = [c for n, c in columns.items() if n not in keys and getattr(c["type"], "collation", None)]
        assert others == [], table


def test_staging_keys_collation_downgrades(staging_url: str) -> None:
    """0014 down and up again: the keys go back to the database's collation and return to "C"."""
    from alembic import command
    from sqlalchemy import inspect

    from bookspot_tripletex.staging.db import alembic_config, make_engine

    engine = make_engine(staging_url)
    migrate(engine)
    cfg = alembic_config(staging_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")
    columns = {c["name"]: c for c in inspect(engine).get_columns("transactions")}
    assert getattr(columns["transaction_id"]["type"], "collation", None) is None
    migrate(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
