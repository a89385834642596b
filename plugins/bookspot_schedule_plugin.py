"""Airflow plugin: the nightly DAG's timetable, a cron data-interval timetable that says its time zone.

Airflow's own `CronDataIntervalTimetable` shows only "0 0 * * *" / "At 00:00" in the UI, which reads as
UTC or the browser's zone; this one shows "00:00 Europe/Oslo" and schedules exactly the same runs."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.interval import CronDataIntervalTimetable


class LocalCronDataIntervalTimetable(CronDataIntervalTimetable):
    """Data intervals from a cron expression in a named time zone, shown with that zone."""

    def __init__(self, cron: str, timezone: str) -> None:
        super().__init__(cron, timezone)
        zone = getattr(self._timezone, "name", str(self._timezone))
        if self.description:
            self.description = f"{self.description}, {zone} time (each run covers one {zone} day)"
        self._zone = zone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LocalCronDataIntervalTimetable):
            return NotImplemented
        return (self._expression, self._timezone) == (other._expression, other._timezone)

    def __hash__(self) -> int:
        return hash((self._expression, self._timezone))

    @property
    def summary(self) -> str:
        parts = self._expression.split()
        if len(parts) == 5 and parts[2:] == ["*", "*", "*"] and parts[0].isdigit() and parts[1].isdigit():
            return f"daily {int(parts[1]):02d}:{int(parts[0]):02d} {self._zone}"
        return f"{self._expression} ({self._zone})"


class BookSpotSchedulePlugin(AirflowPlugin):
    name = "bookspot_schedule"
    timetables = [LocalCronDataIntervalTimetable]
