"""Where raw feed records come from: one interface, a JSON Lines file or the BookSpot API."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from itertools import count, repeat
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from bookspot_tripletex.feed.nesting import max_depth
from bookspot_tripletex.settings import FeedLimits, feed_limits


class TransactionSource(Protocol):
    """Yields raw records changed in [updated_from, updated_to): decoded JSON or `JsonLine`s, unchecked."""

    def iter_records(self, updated_from: dt.datetime, updated_to: dt.datetime) -> Iterator[Any]: ...


KEPT_BYTES = 64 << 10
"""Of a line over the size limit, quarantine keeps this many bytes (its hash covers the whole line)."""


class UndecodableLine:
    """A feed line (or an API record) that is not JSON, or that exceeds a limit; kept so it can be
    quarantined. `rule` is the stable code (`not_json`, `too_large`, `too_deep`), `reason` the sentence."""

    def __init__(
        self,
        line_no: int,
        text: str,
        error: str,
        rule: str = "not_json",
        digest: str | None = None,
        where: str | None = None,
    ) -> None:
        self.where = where or f"line {line_no}"
        """Where the feed had it: a file's line, or an API page's record."""
        self.line_no = line_no
        self.text = text
        self.error = error
        self.rule = rule
        self.digest = digest
        """SHA-256 of the whole line when `text` keeps only part of it."""

    @property
    def reason(self) -> str:
        return f"is not JSON ({self.error})" if self.rule == "not_json" else self.error


def over_limits(
    line_no: int, data: bytes, limits: FeedLimits, where: str | None = None, depth: int | None = None
) -> UndecodableLine | None:
    """The line as an UndecodableLine if it is larger or nests deeper than the limits allow, else None
    (`depth`, when the caller measured it already)."""
    if len(data) > limits.max_line_bytes:
        kept = data[:KEPT_BYTES].decode("utf-8", errors="replace")
        return UndecodableLine(
            line_no,
            kept,
            f"is {len(data):,} bytes, over the limit of {limits.max_line_bytes:,} "
            f"(BOOKSPOT_FEED_MAX_LINE_BYTES); the first {KEPT_BYTES:,} bytes are kept",
            "too_large",
            hashlib.sha256(data).hexdigest(),
            where,
        )
    depth = max_depth(data) if depth is None else depth
    if depth > limits.max_depth:
        text = data.decode("utf-8", errors="replace").rstrip("\r\n")
        return UndecodableLine(
            line_no,
            text,
            f"nests {depth:,} arrays or objects deep, over the limit of {limits.max_depth} "
            "(BOOKSPOT_FEED_MAX_DEPTH)",
            "too_deep",
            where=where,
        )
    return None


class JsonLine(NamedTuple):
    """One line of a JSON Lines export, not decoded yet: staging decodes it straight into the feed schema
    and keeps its text as the record's raw payload."""

    line_no: int
    data: bytes

    def decoded(self) -> Any:
        """The line's JSON value, or an UndecodableLine saying why it has none (not UTF-8, not JSON,
        over a limit of `settings.feed_limits`)."""
        refused = over_limits(self.line_no, self.data.rstrip(b"\r\n"), feed_limits())
        if refused is not None:
            return refused
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
    ) -> JsonlRecords:
        return JsonlRecords(self)

    def lines(self) -> Iterator[JsonLine]:
        """Every non-blank line of the range, numbered."""
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


class JsonlRecords:
    """What `JsonlFileSource.iter_records` returns: an iterator of the range's `JsonLine`s that still names
    its file and range, so that staging may read and check the range in child processes instead
    (`staging.stage`) as long as nothing was taken from it yet (`untouched`)."""

    def __init__(self, source: JsonlFileSource) -> None:
        self.source = source
        self._lines: Iterator[JsonLine] | None = None

    @property
    def untouched(self) -> bool:
        return self._lines is None

    def size(self) -> int:
        """Bytes of the range (of the file as it is now)."""
        total = self.source.path.stat().st_size
        end = total if self.source.end is None else min(self.source.end, total)
        return max(0, end - self.source.start)

    def __iter__(self) -> JsonlRecords:
        return self

    def __next__(self) -> JsonLine:
        if self._lines is None:
            self._lines = self.source.lines()
        return next(self._lines)


BLOCK = 1 << 20
_new = tuple.__new__
"""Makes a JsonLine from (line_no, data) at C speed (what JsonLine._make does, without its checks)."""
