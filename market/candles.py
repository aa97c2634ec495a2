"""Candle frames: the one shape market data takes on its way to indicators, live and in backtests.

A frame is a pandas DataFrame indexed by candle open time (UTC, ``start``) with float64 columns
``open high low close volume``, oldest first. A candle is *closed* once ``start + interval <= now``;
signals only ever see closed candles. Higher timeframes are built from 1-minute candles with
labels at the bucket's open time (Bybit's convention) and only from complete buckets, so a
resampled candle never contains a minute that had not happened yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from market.intervals import INTERVAL_MINUTES, interval_delta, origin_minutes
from market.types import Candle

COLUMNS = ["open", "high", "low", "close", "volume"]


def candles_to_frame(candles: Iterable[Candle]) -> pd.DataFrame:
    candles = list(candles)
    index = pd.DatetimeIndex([candle.start for candle in candles], name="start")
    if index.tz is None and len(index):
        index = index.tz_localize("UTC")
    data = np.array([[float(c.open), float(c.high), float(c.low), float(c.close), float(c.volume)] for c in candles],
                    dtype="float64").reshape(len(candles), 5)
    return pd.DataFrame(data, index=index, columns=COLUMNS)


def frame_to_candles(frame: pd.DataFrame) -> list[Candle]:
    return [
        Candle(start=start.to_pydatetime(), open=_dec(row.open), high=_dec(row.high), low=_dec(row.low),
               close=_dec(row.close), volume=_dec(row.volume))
        for start, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]


def is_closed(candle: Candle, interval: str, now: datetime) -> bool:
    """Whether ``candle``'s period had ended at ``now`` (the rule ``closed_candles`` applies to a frame)."""
    return candle.start + interval_delta(interval) <= now


def closed_candles(frame: pd.DataFrame, interval: str, now: datetime) -> pd.DataFrame:
    """Drop the candle (normally only the newest) whose period has not ended at ``now``."""
    if frame.empty:
        return frame
    # Oldest first (``Exchange.get_kline_frame``), so the closed candles are a prefix: those opened at least one
    # interval before ``now``. A slice, not a mask over a shifted index: this runs for every frame of every cycle.
    return frame.iloc[:frame.index.searchsorted(pd.Timestamp(now) - interval_delta(interval), side="right")]


def resample(frame_1m: pd.DataFrame, interval: str) -> pd.DataFrame:
    """1-minute candles to ``interval`` candles, keeping only buckets with every minute present.

    A bucket with a missing minute (a gap, or the still-forming newest bucket) is dropped rather than
    built from partial data.
    """
    minutes = INTERVAL_MINUTES[interval]
    if minutes == 1:
        return frame_1m
    rule = f"{minutes}min"
    origin = pd.Timestamp(0, tz=frame_1m.index.tz) + pd.Timedelta(minutes=origin_minutes(minutes))  # weeks: Mondays
    grouped = frame_1m.resample(rule, label="left", closed="left", origin=origin)
    out = grouped.agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    counts = grouped["close"].count()
    out = out[counts == minutes]
    out.index.name = "start"
    return out


def find_gaps(frame: pd.DataFrame, interval: str = "1") -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(last candle before, first candle after) for every hole in a frame of ``interval`` candles."""
    if len(frame) < 2:
        return []
    step = pd.Timedelta(interval_delta(interval))
    deltas = frame.index[1:] - frame.index[:-1]
    holes = np.flatnonzero(deltas != step)
    return [(frame.index[i], frame.index[i + 1]) for i in holes]


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def bundled_files(data_dir: Path) -> dict[str, Path]:
    """The bundled 1-minute candle files in ``data_dir`` by symbol (``BTCUSDT_1m.csv.gz`` -> ``BTCUSDT``)."""
    return {path.name.split("_", 1)[0]: path for path in sorted(Path(data_dir).glob("*_1m.csv.gz"))}
