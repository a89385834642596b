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
