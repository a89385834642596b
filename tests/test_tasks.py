"""Which local day a run covers: scheduled intervals are Oslo days (23 and 25 hours at DST)."""

import datetime as dt

import pendulum
import pytest

from bookspot_tripletex.tasks import accounting_day

OSLO = "Europe/Oslo"


@pytest.fixture(scope="module")
def timetable():  # type: ignore[no-untyped-def]
    """The scheduler's view of the DAG's timetable."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.encoders import coerce_to_core_timetable

    dag = DagBag(dag_folder="dags").dags["bookspot_tripletex_nightly"]
    return coerce_to_core_timetable(dag.timetable)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(dt.date(2026, 3, 29), 23), (dt.date(2026, 10, 25), 25), (dt.date(2026, 11, 24), 24)],
)
def test_scheduled_interval_is_one_local_day(timetable, day: dt.date, hours: int) -> None:  # type: ignore[no-untyped-def]
    from airflow.timetables.base import DataInterval, TimeRestriction

    start = pendulum.datetime(day.year, day.month, day.day, tz=OSLO)
    previous = DataInterval(start.subtract(days=1), start)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=previous,
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    interval = info.data_interval
    assert interval.start == start
    assert (interval.end - interval.start).total_seconds() == hours * 3600
    assert accounting_day({"logical_date": info.logical_date, "data_interval_start": interval.start}) == day


def test_manual_run_names_its_day_by_logical_date() -> None:
    utc_midnight = pendulum.datetime(2026, 11, 24, tz="UTC")
    assert accounting_day({"logical_date": utc_midnight, "data_interval_start": None}) == dt.date(
        2026, 11, 24
    )
    late = pendulum.datetime(2026, 11, 24, 23, 30, tz="UTC")
    assert accounting_day({"logical_date": late}) == dt.date(2026, 11, 25)


def test_day_param_overrides() -> None:
    context = {"params": {"day": "2026-10-25"}, "logical_date": pendulum.datetime(2026, 11, 24, tz="UTC")}
    assert accounting_day(context) == dt.date(2026, 10, 25)
    assert type(accounting_day(context)) is dt.date
    assert type(accounting_day({"logical_date": pendulum.now()})) is dt.date


def _dag_run(run_type: str, run_id: str = "r1"):  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    return SimpleNamespace(run_type=run_type, run_id=run_id)


NIGHT = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)


def test_a_scheduled_run_brings_every_due_day_up_to_its_own() -> None:
    from bookspot_tripletex.tasks import night_of

    context = {"logical_date": pendulum.datetime(2026, 11, 24, tz=OSLO), "dag_run": _dag_run("scheduled")}
    night = night_of(context, NIGHT)
    assert (night.until, night.days, night.run_id, night.dry_run) == (
        dt.date(2026, 11, 24),
        None,
        "r1",
        False,
    )


def test_a_backfill_run_or_the_day_param_reruns_exactly_its_day() -> None:
    from bookspot_tripletex.tasks import night_of

    logical = pendulum.datetime(2026, 11, 20, tz=OSLO)
    backfill = night_of({"logical_date": logical, "dag_run": _dag_run("backfill")}, NIGHT)
    assert (backfill.until, backfill.days) == (dt.date(2026, 11, 20), (dt.date(2026, 11, 20),))
    chosen = night_of({"params": {"day": "2026-11-03"}, "dag_run": _dag_run("manual")}, NIGHT)
    assert (chosen.until, chosen.days) == (dt.date(2026, 11, 3), (dt.date(2026, 11, 3),))


def test_days_that_are_not_over_are_never_due() -> None:
    from bookspot_tripletex.tasks import night_of

    today = pendulum.datetime(2026, 11, 25, 1, tz=OSLO)
    assert night_of({"logical_date": today, "dag_run": _dag_run("manual")}, NIGHT).until == dt.date(
        2026, 11, 24
    )
    future = night_of({"params": {"day": "2026-12-01"}}, NIGHT)
    assert future.until == dt.date(2026, 11, 24) and future.days == (dt.date(2026, 12, 1),)


def test_shards_stay_within_the_mapping_limit() -> None:
    from bookspot_tripletex.tasks import shards

    tenants = [f"tenant-{i:04d}" for i in range(1100)]
    planned = shards(tenants, 1, 1024)
    assert len(planned) <= 1024
    assert [t for s in planned for t in s["tenants"]] == tenants
    assert planned[0]["label"] == "shard 0: tenant-0000, tenant-0001"
    assert len(shards(tenants[:10], 1, 1024)) == 10
    assert [len(s["tenants"]) for s in shards(tenants[:10], 4, 1024)] == [4, 4, 2]
    assert shards([], 5, 1024) == []


def test_unpausing_creates_one_run_not_a_backlog(timetable) -> None:  # type: ignore[no-untyped-def]
    """The scheduler's own next-run computation for the DAG as serialized: with catch-up off, the first
    run after unpausing is the latest finished Oslo day, and the next one is not due before tomorrow."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    dag = DagBag(dag_folder="dags").dags["bookspot_tripletex_nightly"]
    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    now = pendulum.now("UTC")
    first = scheduler_dag.next_dagrun_info(last_automated_run_info=None)
    assert first.data_interval.end <= now
    assert first.data_interval.start >= now.subtract(days=2)
    second = scheduler_dag.next_dagrun_info(last_automated_run_info=first)
    assert second.run_after > now


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        ("VoucherBusy", "retry"),
        ("ServerError", "retry"),
        ("RateLimited", "retry"),
        ("TransportError", "retry"),
        ("BookSpotServerError", "retry"),
        ("ValidationError", "refused"),
        ("AuthError", "refused"),
        ("ActivationFailed", "refused"),
        ("BookSpotAuthError", "refused"),
        ("ZeroDivisionError", "error"),
    ],
)
def test_what_a_failure_means(error: str, outcome: str) -> None:
    from bookspot_tripletex.feed import client as feed
    from bookspot_tripletex.load.activation import ActivationFailed
    from bookspot_tripletex.load.post import VoucherBusy
    from bookspot_tripletex.triage import classify
    from bookspot_tripletex.tripletex import errors

    status = {"ServerError": 503, "RateLimited": 429, "ValidationError": 422, "AuthError": 401}
    made = {
        "VoucherBusy": lambda: VoucherBusy("busy"),
        "ActivationFailed": lambda: ActivationFailed("no"),
        "BookSpotServerError": lambda: feed.BookSpotServerError("503"),
        "BookSpotAuthError": lambda: feed.BookSpotAuthError("401"),
        "ZeroDivisionError": lambda: ZeroDivisionError("bug"),
    }
    exc = made[error]() if error in made else getattr(errors, error)("x", status=status.get(error))
    assert classify(exc).value == outcome


def _shard_result(*outcomes: str):  # type: ignore[no-untyped-def]
    from bookspot_tripletex.pipeline import NightResult
    from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome

    return NightResult(
        [
            DayOutcome(f"t{i}", dt.date(2026, 11, 24), "load", Outcome(o), {}, "why", "do this")
            for i, o in enumerate(outcomes)
        ]
    )


@pytest.mark.parametrize(
    ("outcomes", "raised"),
    [
        (("posted", "empty", "already_posted", "dry_run", "awaiting_approval"), None),
        (("posted", "held", "refused"), "AirflowFailException"),
        (("posted", "held", "retry"), "StepRetry"),
        (("error",), "StepRetry"),
    ],
)
def test_a_step_fails_for_a_person_retries_for_the_transient(monkeypatch, outcomes, raised) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex import tasks
    from bookspot_tripletex.steps import base, validate

    result = _shard_result(*outcomes)
    took = [(o.tenant, o.day) for o in result.outcomes]
    stopped = base.NightResult([o for o in result.outcomes if o.outcome.retryable or o.outcome.needs_person])
    monkeypatch.setattr(tasks, "make_engine", lambda: type("E", (), {"dispose": lambda self: None})())
    monkeypatch.setattr(validate, "run", lambda *a, **k: base.StepResult("validate", took, result.outcomes))
    monkeypatch.setattr(base, "stopped_at", lambda engine, run_id, tenants, step: stopped)
    pushed: dict[str, object] = {}
    ti = type("TI", (), {"xcom_push": lambda self, key, value: pushed.update({key: value})})()
    shard = {"label": "shard 0: t0", "tenants": [f"t{i}" for i in range(len(outcomes))]}
    context = {
        "logical_date": pendulum.datetime(2026, 11, 24, tz=OSLO),
        "ti": ti,
        "dag_run": _dag_run("scheduled"),
    }
    if raised is None:
        value = tasks.run_step("validate", shard, context)
        assert (value["step"], value["tenants"], value["tenant_days"]) == (
            "validate",
            len(outcomes),
            len(outcomes),
        )
        assert isinstance(value["cpu_s"], float) and value["cpu_s"] >= 0
    else:
        with pytest.raises(Exception) as failure:
            tasks.run_step("validate", shard, context)
        assert type(failure.value).__name__ == raised
        bad = sorted(f"t{i}" for i, o in enumerate(outcomes) if o in ("held", "refused", "retry", "error"))
        assert f"of {len(bad)} tenant(s) not posted: {', '.join(bad)}" in str(failure.value)
        assert "do this" in str(failure.value)
    held = [f"t{i}" for i, o in enumerate(outcomes) if o in ("held", "refused")]
    assert [d["tenant"] for d in pushed["held_days"]] == held
    assert pushed["tenant_days"] == [[t, "2026-11-24"] for t, _ in took]


def test_a_step_imports_only_what_it_needs() -> None:
    """What the extract step adds to a task's start-up: neither Great Expectations, nor validation, nor
    the Tripletex client or the load step."""
    import subprocess
    import sys

    code = (
        "import sys; sys.path[:0] = ['plugins'];"
        "from bookspot_tripletex import tasks; import importlib;"
        "importlib.import_module('bookspot_tripletex.steps.extract');"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(('great_expectations', "
        "'bookspot_tripletex.tripletex', 'bookspot_tripletex.validation', 'bookspot_tripletex.load.post')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", out.stdout


def test_the_run_fails_naming_the_days_that_need_a_person_or_that_no_step_took(
    staging_engine, staging_url: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """`finish`: a held day fails the run; a day left ready by a step whose task failed as a whole is
    recorded as failed at the next step (so the run's end alerts it); a tenant nothing ran for is named."""
    from airflow.sdk.exceptions import AirflowFailException

    from bookspot_tripletex import tasks
    from bookspot_tripletex.staging.night_steps import READY, StepRow, write
    from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome, record_outcomes, run_outcomes

    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    day = dt.date(2026, 11, 24)
    context = {
        "logical_date": pendulum.datetime(2026, 11, 24, tz=OSLO),
        "dag_run": _dag_run("scheduled", "r9"),
    }
    shards_planned = [{"tenants": ["t0", "t1"]}, {"tenants": ["t2"]}]
    with staging_engine.begin() as conn:
        record_outcomes(conn, "r9", [DayOutcome("t0", day, "load", Outcome.POSTED, {})])
    assert tasks.finish_run(context, [{"tenants": ["t0"]}])["tenant_days"] == 1
    with staging_engine.begin() as conn:
        record_outcomes(
            conn, "r9", [DayOutcome("t1", day, "validate", Outcome.HELD, {}, "why", "release it")]
        )
        write(conn, "r9", [StepRow("t0", day - dt.timedelta(days=1), "journal", READY)])
    with pytest.raises(AirflowFailException) as failure:
        tasks.finish_run(context, shards_planned)
    text = str(failure.value)
    assert "t1 2026-11-24: held at validate" in text and "release it" in text
    assert "t0 2026-11-23: error at validate: the validate task did not take this day" in text
    assert "1 tenant(s) without any step recorded: t2" in text
    with staging_engine.connect() as conn:
        stuck = [r for r in run_outcomes(conn, "r9") if r.local_date == day - dt.timedelta(days=1)]
    assert [(r.tenant_id, r.step, r.outcome) for r in stuck] == [("t0", "validate", "error")]
    with pytest.raises(AirflowFailException, match="plan task did not finish"):
        tasks.finish_run(context, None)
