"""`mappings_for_days` (the release's batched look-up) gives each day exactly what `mapping_for_day` does."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from sqlalchemy import insert

from bookspot_tripletex.staging.day_mapping import mapping_for_day, mappings_for_days
from bookspot_tripletex.staging.schema import vouchers
from bookspot_tripletex.tenants.config import parse_tenant
from bookspot_tripletex.tenants.store import import_tenant
from prepaid_support import tenant_data

TENANT = "fjord-kayak"
D = dt.date


def test_batched_day_mappings_match_one_day_at_a_time(staging_engine, example_tenant_file: Path) -> None:  # type: ignore[no-untyped-def]
    example = yaml.safe_load(example_tenant_file.read_text(encoding="utf-8"))
    data = tenant_data(example, TENANT, example["tripletex_company_id"], example["organization_number"], True)
    now = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    with staging_engine.begin() as conn:
        import_tenant(conn, parse_tenant(data))
        data["mappings"][0]["accounts"]["provider_fees"] = 7771  # a second revision of the first version
        import_tenant(conn, parse_tenant(data))
        first = mapping_for_day(conn, TENANT, D(2026, 2, 1))
        second = mapping_for_day(conn, TENANT, D(2026, 7, 1))
        assert first is not None and second is not None and first.id != second.id and first.revision == 2
        rows = [  # (day, version, status, mapping): posted, reversed then re-posted, only reversed, a draft
            (D(2026, 7, 2), 1, "posted", first.id),
            (D(2026, 7, 3), 1, "reversed", first.id),
            (D(2026, 7, 3), 2, "posted", second.id),
            (D(2026, 7, 4), 1, "reversed", second.id),
            (D(2026, 7, 4), 2, "reversed", first.id),
            (D(2026, 7, 5), 1, "draft", first.id),
        ]
        for day, version, status, mapping_id in rows:
            conn.execute(
                insert(vouchers).values(
                    tenant_id=TENANT, local_date=day, version=version, status=status, updated_at=now,
                    external_number=f"bookspot:{TENANT}:{day}:v{version}", mapping_version_id=mapping_id,
                )
            )  # fmt: skip
        days = [
            D(2025, 12, 31),
            D(2026, 1, 1),
            D(2026, 5, 31),
            D(2026, 6, 1),
            *(D(2026, 7, d) for d in range(1, 7)),
        ]
        one_by_one = {day: mapping_for_day(conn, TENANT, day) for day in days}
        assert mappings_for_days(conn, TENANT, days) == one_by_one
        assert mappings_for_days(conn, TENANT, [day.isoformat() for day in days]) == {
            day.isoformat(): mapping for day, mapping in one_by_one.items()
        }  # a raw query's dates are text on SQLite
        assert mappings_for_days(conn, TENANT, []) == {}
        assert one_by_one[D(2025, 12, 31)] is None
        assert [one_by_one[D(2026, 7, d)].id for d in range(1, 7)] == [  # type: ignore[union-attr]
            second.id, first.id, second.id, first.id, second.id, second.id
        ]  # fmt: skip
