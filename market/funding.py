"""Funding of linear perpetuals, as pure rules: when it is paid, and how much.

Bybit settles funding every 8 hours, at 00:00, 08:00 and 16:00 UTC, on the positions held at that moment:
payment = position value at the mark price x the funding rate; with a positive rate longs pay and shorts
receive, with a negative one the other way round. We take the mark to be the close of the 1-minute candle
that ends at the funding time (the candles are all a backtest or the paper replay has).

A position counts as held at a funding time ``T`` when it was opened before ``T`` and closed at or after ``T``:
in 1-minute candles, ``entry minute < T <= exit minute`` (a position closed inside the minute starting at ``T``
was still open at ``T``; one opened at ``T``'s open was not yet). The backtest and the paper exchange both use
this rule, so the same trade pays the same funding in both.

When no funding history is at hand, ``ASSUMED_RATE`` stands in for every time, and reports say so
(``ASSUMED_NOTE``): 0.01 % per 8 h is Bybit's baseline rate (interest 0.03 % a day, premium zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from market.fills import direction, money

INTERVAL = timedelta(hours=8)
INTERVAL_NS = 8 * 3600 * 1_000_000_000
ASSUMED_RATE = Decimal("0.0001")
ASSUMED_NOTE = "funding assumed at 0.01 % per 8 h"
FUNDING = "funding"


def times_ns(after_ns: int, until_ns: int) -> np.ndarray:
    """The funding times ``T`` (int64 ns since the epoch) with ``after_ns < T <= until_ns``."""
    first = after_ns // INTERVAL_NS + 1
    last = until_ns // INTERVAL_NS
    return np.arange(first, last + 1, dtype=np.int64) * INTERVAL_NS


def times(after: datetime, until: datetime) -> list[datetime]:
    """The funding times ``T`` with ``after < T <= until`` (aware UTC datetimes)."""
    found = times_ns(_ns(after), _ns(until))
    return [datetime.fromtimestamp(int(t) // 1_000_000_000, tz=UTC) for t in found]


def rate_at(rates: Mapping[int, Decimal], time_ms: int) -> tuple[Decimal, bool]:
    """The rate settled at ``time_ms`` (epoch ms) and whether it was assumed (no data for that time)."""
    rate = rates.get(time_ms)
    return (ASSUMED_RATE, True) if rate is None else (rate, False)


def payment(side: str, size: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    """What the holder's wallet gains (negative: pays) at one funding time, rounded to the 8 places kept."""
    return money(-direction(side) * size * mark * rate)


def _ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
