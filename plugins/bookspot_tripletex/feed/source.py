"""Where raw feed records come from: one interface, a JSON Lines file or the BookSpot API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol


class TransactionSource(Protocol):
    """Yields raw records (decoded JSON, unchecked) changed in [updated_from, updated_to)."""

    def iter_records(self, updated_from: dt.datetime, updated_to: dt.datetime) -> Iterator[Any]: ...


class UndecodableLine:
    """A line of a JSON Lines file that is not JSON; kept so it can be quarantined whole."""

    def __init__(self, line_no: int, text: str, error: str) -> None:
        self.line_no = line_no
        self.text = text
        self.error = error


class JsonlFileSource:
    """A BookSpot JSON Lines export. The file is an initial import: every line is yielded."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def iter_records(
        self, updated_from: dt.datetime | None = None, updated_to: dt.datetime | None = None
    ) -> Iterator[Any]:
        with self.path.open("rb") as fh:
            for line_no, data in enumerate(fh, start=1):
                if not data.strip():
                    continue
                try:
                    yield json.loads(data.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    text = data.decode("utf-8", errors="replace").rstrip("\n")
                    yield UndecodableLine(line_no, text, f"not UTF-8: {exc.reason}")
                except ValueError as exc:
                    yield UndecodableLine(line_no, data.decode("utf-8").rstrip("\n"), str(exc))
