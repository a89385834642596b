"""One page of the BookSpot transactions API read record by record, within the feed limits.

The page's `data` array is cut into its records before anything is decoded; a record over a limit, or
one that is not JSON, becomes an `UndecodableLine` that staging quarantines with its reason, and the
rest of the page is read as usual. A body that is not a page at all raises `PageError`.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from bookspot_tripletex.feed.nesting import split_member
from bookspot_tripletex.feed.source import UndecodableLine, over_limits
from bookspot_tripletex.settings import FeedLimits

PAGE_LEVELS = 2
"""The page object and its `data` array: a record's own depth is counted below them."""


class PageError(ValueError):
    """The body is not a page of the documented shape; the message says what it is instead."""


class PageRecords(NamedTuple):
    records: list[Any]
    next_cursor: str | None


def describe(body: bytes, content_type: str | None) -> str:
    """A short, safe description of a body that is not a page: type, size and how it starts."""
    start = body[:80].decode("utf-8", errors="replace").replace("\n", " ").strip()
    return f"{content_type or 'no content type'}, {len(body):,} bytes, starting {start!r}"


def parse_page(body: bytes, limits: FeedLimits, page: int, content_type: str | None = None) -> PageRecords:
    """The page's records (decoded JSON values, or UndecodableLines naming page and record) and cursor."""
    split = split_member(body, "data")
    if split is None:
        raise PageError(f"is not a page with a `data` list ({describe(body, content_type)})")
    try:
        rest = json.loads(split.rest)
    except (ValueError, RecursionError):
        raise PageError(f"is not JSON ({describe(body, content_type)})") from None
    if not isinstance(rest, dict) or rest.get("data") != []:
        raise PageError(f"is not a page with a `data` list ({describe(body, content_type)})")
    cursor = rest.get("next_cursor")
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        raise PageError("has an invalid next_cursor")
    records = [
        _record(body[begin:end], depth, limits, page, number)
        for number, (begin, end, depth) in enumerate(split.elements, start=1)
    ]
    return PageRecords(records, cursor)


def _record(data: bytes, depth: int, limits: FeedLimits, page: int, number: int) -> Any:
    where = f"page {page}, record {number}"
    refused = over_limits(number, data.strip(), limits, where=where, depth=depth)
    if refused is not None:
        return refused
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return UndecodableLine(
            number, data.decode("utf-8", errors="replace").strip(), f"not UTF-8: {exc.reason}", where=where
        )
    try:
        return json.loads(text)
    except ValueError as exc:
        return UndecodableLine(number, text.strip(), str(exc), where=where)
