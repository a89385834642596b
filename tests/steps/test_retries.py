"""A step retried for its transient failures takes only those days again, and once they pass, nothing of
the failed attempt is left to fail the step or the run."""

import datetime as dt

import pytest

from bookspot_tripletex.staging.night_steps import READY, STOPPED, StepRow, read, write
from bookspot_tripletex.steps import base, journal

DAY = dt.date(2026, 11, 24)


class _Quiet:
    def plan(self, tenant: str, days: list[dt.date], staged: int) -> None:
        pass

    def report(self, outcome) -> None:  # type: ignore[no-untyped-def]
        pass


def test_a_journal_retry_takes_the_failed_day_only_and_clears_its_failure(
    staging_engine, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.tripletex.errors import TransportError

    night = base.Night("r1", DAY)
    with staging_engine.begin() as conn:
        write(conn, "r1", [StepRow("t0", DAY, "extract", READY), StepRow("t1", DAY, "extract", READY)])
    calls: list[str] = []

    def journal_day(engine, tenant: str, day: dt.date) -> dict:  # type: ignore[no-untyped-def]
        calls.append(tenant)
        if tenant == "t1" and calls.count("t1") == 1:
            raise TransportError("connection reset")
        return {"tenant": tenant, "date": day.isoformat(), "status": "built", "transactions": 2}

    monkeypatch.setattr(journal, "journal_day", journal_day)
    first = journal.run(staging_engine, night, ["t0", "t1"], _Quiet())
    assert [o.outcome.value for o in first.outcomes] == ["retry"]
    assert [o.tenant for o in base.stopped_at(staging_engine, "r1", ["t0", "t1"], "journal").to_retry] == [
        "t1"
    ]
    with staging_engine.connect() as conn:
        assert {r.tenant: r.state for r in read(conn, "r1", ["t0", "t1"])} == {"t0": READY, "t1": STOPPED}

    again = journal.run(staging_engine, night, ["t0", "t1"], _Quiet())
    assert again.tenant_days == [("t1", DAY)] and calls == ["t0", "t1", "t1"]
    assert base.stopped_at(staging_engine, "r1", ["t0", "t1"], "journal").outcomes == []
    with staging_engine.connect() as conn:
        rows = read(conn, "r1", ["t0", "t1"])
    assert {(r.tenant, r.step, r.state) for r in rows} == {("t0", "journal", READY), ("t1", "journal", READY)}
    assert rows[1].detail["journal"]["transactions"] == 2
