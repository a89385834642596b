"""Where raw feed records come from: one interface, a JSON Lines file or the BookSpot API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol


class TransactionSource(Protocol):
    """Yields raw records changed in [updated_from, updated_to): decoded JSON or `JsonLine`s, unchecked."""

    def iter_records(self, updated_from: dt.datetime, updated_to: dt.datetime) -> Iterator[Any]: ...


class UndecodableLine:
    """A line of a JSON Lines file that is not JSON; kept so it can be quarantined whole."""

    def __init__(self, line_no: int, text: str, error: str) -> None:
        self.line_no = line_no
        self.text = text
        self.error = error


class JsonLine(NamedTuple):
    """One line of a JSON Lines export, not decoded yet: staging decodes it straight into the feed schema
    and keeps its text as the record's raw payload."""

    line_no: int
    data: bytes

    def decoded(self) -> Any:
        """The line's JSON value, or an UndecodableLine saying why it has none."""
        try:
            return json.loads(self.data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            text = self.data.decode("utf-8", errors="replace").rstrip("\r\n")
            return UndecodableLine(self.line_no, text, f"not UTF-8: {exc.reason}")
        except ValueError as exc:
            return UndecodableLine(self.line_no, self.data.decode("utf-8").rstrip("\r\n"), str(exc))


def decoded(item: Any) -> Any:
    """A record as decoded JSON (a JsonLine is decoded; anything else is already)."""
    return item.decoded() if isinstance(item, JsonLine) else item


class JsonlFileSource:
    """A BookSpot JSON Lines export. The file is an initial import: every non-blank line is yielded, as
    a `JsonLine`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def iter_records(
        self, updated_from: dt.datetime | None = None, updated_to: dt.datetime | None = None
    ) -> Iterator[Any]:
        with self.path.open("rb") as fh:
            for line_no, data in enumerate(fh, start=1):
                if data.strip():
                    yield JsonLine(line_no, data)
