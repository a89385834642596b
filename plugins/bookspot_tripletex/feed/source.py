"""Where raw feed records come from: one interface, a JSON Lines file or the BookSpot API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from itertools import count, repeat
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
    """A BookSpot JSON Lines export, or the byte range [start, end) of one (a tenant's part of a joint
    export; line numbers then count from `start`). The file is an initial import: every non-blank line
    is yielded, as a `JsonLine`."""

    def __init__(self, path: str | Path, start: int = 0, end: int | None = None) -> None:
        self.path = Path(path)
        self.start = start
        self.end = end

    def iter_records(
        self, updated_from: dt.datetime | None = None, updated_to: dt.datetime | None = None
    ) -> Iterator[Any]:
        line_no = 1
        with self.path.open("rb") as fh:
            fh.seek(self.start)
            for lines in self._blocks(fh):
                numbered = map(_new, repeat(JsonLine), zip(count(line_no), lines, strict=False))
                yield from [line for line in numbered if not line.data.isspace()]
                line_no += len(lines)

    def _blocks(self, fh: Any) -> Iterator[list[bytes]]:
        position = self.start
        while lines := fh.readlines(BLOCK):
            size = sum(map(len, lines))
            if self.end is None or position + size <= self.end:
                position += size
                yield lines
                continue
            taken = []
            for line in lines:
                if position >= self.end:
                    break
                taken.append(line)
                position += len(line)
            yield taken
            return


BLOCK = 1 << 20
_new = tuple.__new__
"""Makes a JsonLine from (line_no, data) at C speed (what JsonLine._make does, without its checks)."""
