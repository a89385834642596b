"""A run's tenant-days and the step each reached: what one step leaves the next takes, and nothing else."""

import datetime as dt

from bookspot_tripletex.staging.night_steps import (
    DONE,
    IDLE,
    READY,
    STOPPED,
    StepRow,
    forget,
    move,
    prune,
    read,
    write,
)
from bookspot_tripletex.steps.base import to_take

DAY = dt.date(2026, 11, 24)


def test_a_step_takes_what_the_step_before_left_ready_and_what_stopped_at_it(staging_engine) -> None:  # type: ignore[no-untyped-def]
    rows = [
        StepRow("t0", DAY, "journal", READY, None, {"journal": {"transactions": 3}}),
        StepRow("t0", DAY - dt.timedelta(days=1), "validate", STOPPED, "held"),
        StepRow("t1", DAY, "validate", READY),
        StepRow("t1", DAY - dt.timedelta(days=1), "load", DONE, "posted"),
        StepRow("t2", DAY, "extract", IDLE),
    ]
    with staging_engine.begin() as conn:
        write(conn, "r1", rows)
        write(conn, "r2", [StepRow("t0", DAY, "journal", READY)])
    with staging_engine.connect() as conn:
        taken = to_take(conn, "r1", ["t0", "t1", "t2"], "validate")
        assert [(r.tenant, r.day) for r in taken] == [("t0", DAY - dt.timedelta(days=1)), ("t0", DAY)]
        assert taken[1].detail == {"journal": {"transactions": 3}}
        assert [(r.tenant, r.day) for r in to_take(conn, "r1", ["t0", "t1"], "load")] == [("t1", DAY)]
        assert to_take(conn, "r1", ["t2"], "journal") == [], "an idle tenant has nothing to journal"
    with staging_engine.begin() as conn:
        write(conn, "r1", [StepRow("t0", DAY, "validate", READY)])
        move(conn, "r1", "t1", "reconcile")
        forget(conn, "r1", ["t2"])
    with staging_engine.connect() as conn:
        after = {(r.tenant, r.day): (r.step, r.state) for r in read(conn, "r1", ["t0", "t1", "t2"])}
        assert after[("t0", DAY)] == ("validate", READY)
        assert {after[("t1", d)] for d in (DAY, DAY - dt.timedelta(days=1))} == {
            ("reconcile", READY),
            ("reconcile", DONE),
        }
        assert not any(t == "t2" for t, _ in after)
        assert len(read(conn, "r2", ["t0"])) == 1, "another run's rows are its own"
    with staging_engine.begin() as conn:
        assert prune(conn, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) == 5
