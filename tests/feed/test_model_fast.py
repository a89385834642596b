"""The fast path of parse_record accepts only what the full checker accepts, with the same result."""

import copy
import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookspot_devkit.simulator.generator import iter_transactions
from bookspot_tripletex.feed.model import InvalidRecord, Line, Transaction, check_every_rule, fast_fields

KNOBS = {
    "late_updates": 0.1,
    "voids": 0.1,
    "corrections": 0.5,
    "lines_sum_mismatch": 0.05,
    "line_vat_wrong": 0.05,
    "gift_card_vat": 0.05,
    "fee_exceeds_amount": 0.05,
    "offline_fee": 0.05,
    "wrong_currency": 0.05,
    "missing_field": 0.05,
    "wrong_type": 0.05,
}
FEED = list(iter_transactions(3, "2026-06-01", "2026-06-20", seed=3, **KNOBS))
ODD_VALUES = [
    None, "", "x", "NOK", 0, -1, 1, 2**70, True, False, 1.0, 0.5, [], {}, ["payment"], "25", "exempt",
    "2026-11-24", "2026-11-24T10:00:00", "2026-11-24T10:00:00+01:00", "20261124", "gift_card", "cash",
]  # fmt: skip


def same_outcome(raw: Any, currency: str = "NOK") -> None:
    fields = fast_fields(raw, currency)
    try:
        full: Transaction | None = check_every_rule(raw, currency)
    except InvalidRecord:
        full = None
    if fields is None:
        return
    assert full is not None, f"fast path accepted a record the checker rejects: {raw!r}"
    *head, lines = fields
    assert Transaction(*head, lines=tuple(Line(*line) for line in lines), raw=raw) == full
    assert [type(v) for v in head] == [type(getattr(full, f)) for f in Transaction.__dataclass_fields__][:12]


def test_generated_feed_agrees() -> None:
    accepted = 0
    for raw in FEED:
        same_outcome(raw)
        accepted += fast_fields(raw) is not None
    assert 0 < accepted < len(FEED)


def test_other_currency_is_left_to_the_checker() -> None:
    raw = copy.deepcopy(FEED[0])
    assert fast_fields(raw, "SEK") is None
    same_outcome(raw, "SEK")
    raw["currency"] = ""
    same_outcome(raw, "")


def _paths(raw: dict[str, Any]) -> list[tuple[Any, ...]]:
    paths: list[tuple[Any, ...]] = [(key,) for key in raw]
    for index, line in enumerate(raw.get("lines") or []):
        paths += [("lines", index, key) for key in line]
    return paths


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, len(FEED) - 1),
    st.data(),
    st.sampled_from(ODD_VALUES),
    st.sampled_from(["set", "delete", "shift"]),
)
def test_mutated_records_agree(index: int, data: st.DataObject, value: Any, how: str) -> None:
    raw = copy.deepcopy(FEED[index])
    if not isinstance(raw.get("lines"), list) or not all(isinstance(x, dict) for x in raw["lines"]):
        return
    *parents, key = data.draw(st.sampled_from(_paths(raw)))
    target = raw
    for step in parents:
        target = target[step]
    if how == "delete":
        del target[key]
    elif how == "shift" and type(target[key]) is int:
        target[key] += data.draw(st.sampled_from([-2, -1, 1, 2]))
    else:
        target[key] = copy.deepcopy(value)
    same_outcome(raw)


def test_offsets_and_dates_are_parsed_alike() -> None:
    raw = copy.deepcopy(FEED[0])
    raw["occurred_at"] = "2026-03-29T01:30:00.123456-02:30"
    raw["lines"][0]["service_date"] = "2026-W14-1"
    same_outcome(raw)
    fields = fast_fields(raw)
    assert fields is not None and fields[5].utcoffset() == -dt.timedelta(hours=2, minutes=30)
