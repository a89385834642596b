"""Amounts and days as the reports write them (`money.nok_text`, `timeutil.day_text`), remembered per
process: a night's reports write the same figures again and again (a tenant's six weeks in every chart,
the same day in every section), and Babel's formatting is the costly part of a chart."""

from __future__ import annotations

from functools import lru_cache

from bookspot_tripletex.money import nok_text as _nok_text
from bookspot_tripletex.timeutil import day_text as _day_text

nok_text = lru_cache(maxsize=1 << 16, typed=True)(_nok_text)
day_text = lru_cache(maxsize=1 << 12, typed=True)(_day_text)
