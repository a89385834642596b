"""How deep a JSON text nests, and where the elements of an array begin and end, without decoding it.

A decoder recurses once per level; a record of 200,000 nested brackets makes it raise `RecursionError`.
These functions read the bytes as columns (numpy), outside string literals, so a text can be measured
and split first and only what is within the limits is decoded.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

_QUOTE, _BACKSLASH, _COMMA = ord('"'), ord("\\"), ord(",")
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def _outside_strings(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The bytes as an array, and a mask of the bytes that are not inside a string literal."""
    raw = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(raw == _QUOTE)
    if not len(quotes):
        return raw, np.ones(len(raw), dtype=bool)
    not_backslash = np.where(raw != _BACKSLASH, np.arange(len(raw)), -1)
    last_plain = np.maximum.accumulate(not_backslash)
    before = quotes - 1
    run = np.where(before >= 0, before - last_plain[np.maximum(before, 0)], 0)
    real = quotes[run % 2 == 0]
    toggles = np.zeros(len(raw), dtype=np.int8)
    toggles[real] = 1
    inside = (np.cumsum(toggles, dtype=np.int64) % 2).astype(bool)
    inside[real] = False
    return raw, ~inside


def depths(data: bytes) -> np.ndarray:
    """The nesting depth after each byte (an opening bracket counts on itself, a closing one after it)."""
    return _levels(data)[0]


def _levels(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raw, outside = _outside_strings(data)
    steps = np.where(outside, _OPEN[raw], 0)
    return np.cumsum(steps, dtype=np.int64), raw, outside


def max_depth(data: bytes) -> int:
    """How many arrays and objects deep the text nests at most (0 for a scalar)."""
    if not data:
        return 0
    return int(max(depths(data).max(initial=0), 0))


class Split(NamedTuple):
    """An object's array member cut out: its elements' byte ranges with their own depth, and the object's
    text with that member emptied (`[]`)."""

    elements: list[tuple[int, int, int]]
    rest: bytes


def split_member(data: bytes, key: str) -> Split | None:
    """The elements of the top-level object's array member `key`, or None when it has none."""
    level, raw, outside = _levels(data)
    pattern = re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*\[')
    for match in pattern.finditer(data):
        if outside[match.start()] and level[match.start()] == 1:
            start = match.end() - 1
            break
    else:
        return None
    base = int(level[start])
    after = np.flatnonzero(level[start:] < base)
    if not len(after):
        return None
    stop = start + int(after[0])
    inner = slice(start + 1, stop)
    commas = np.flatnonzero((raw[inner] == _COMMA) & outside[inner] & (level[inner] == base)) + start + 1
    begins = [start + 1, *(commas + 1).tolist()]
    ends = [*commas.tolist(), stop]
    rest = data[: start + 1] + data[stop:]
    if len(begins) == 1 and not data[start + 1 : stop].strip():
        return Split([], rest)
    elements = [(b, e, int(level[b:e].max(initial=base)) - base) for b, e in zip(begins, ends, strict=True)]
    return Split(elements, rest)
