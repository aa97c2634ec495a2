"""Replayed market data: the bundled real 1-minute candles, played back on a clock that follows wall time.

The replay clock maps wall time to data time::

    data_time = data_start + warmup + ((now - anchor) * speed)  modulo  (data_end - data_start - warmup)

The anchor (the wall time the replay started) is stored in the database, so a restart carries on where
the bot was. The warm-up keeps enough history behind the clock for indicators (200 hourly candles);
when the clock reaches the end of the data it starts again after the warm-up, and prices jump once.

What the clock shows at data time ``t`` never includes the future: the price is the open of the minute
``t`` falls in, closed candles are those that ended by ``t``, and the newest candle returned is the
still-forming one (as on Bybit), built from the minutes of its period that have passed plus that open.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from django.utils import timezone

from market.candles import COLUMNS, bundled_files, frame_to_candles, resample
from market.errors import InvalidOrderError
from market.instruments import BUNDLED_RULES
from market.intervals import INTERVAL_MINUTES
from market.types import Candle, InstrumentRules, Ticker

MINUTE = timedelta(minutes=1)
DEFAULT_WARMUP = timedelta(days=9)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=256)
def _closed_candles(path: str, interval: str, first: datetime, current: datetime) -> tuple[Candle, ...]:
    """The closed candles from ``first`` up to ``current`` (excluded): history, so computed once per new candle
    rather than at every read (the cycle, the dashboard's chart and the API all ask)."""
    frame = load_minutes(path)
    i_first, i_current = (int(frame.index.searchsorted(pd.Timestamp(moment))) for moment in (first, current))
    return tuple(frame_to_candles(resample(frame.iloc[i_first:i_current], interval).round(8)))


@functools.lru_cache(maxsize=16)
def load_minutes(path: str) -> pd.DataFrame:
    """A bundled ``*_1m.csv.gz`` as a candle frame. Cached per process: every cycle reads it."""
    raw = pd.read_csv(path, dtype={"timestamp_ms": "int64", **{column: "float64" for column in COLUMNS}})
    index = pd.DatetimeIndex(pd.to_datetime(raw["timestamp_ms"], unit="ms", utc=True), name="start")
    return pd.DataFrame(raw[COLUMNS].to_numpy(), index=index, columns=COLUMNS)


class ReplayClock:
    def __init__(self, *, data_start: datetime, data_end: datetime, anchor: datetime, speed: int = 1,
                 warmup: timedelta = DEFAULT_WARMUP, now: Callable[[], datetime] = timezone.now):
        if data_end - data_start <= warmup:
            raise ValueError("the replay data is shorter than its warm-up")
        self.start = data_start + warmup
        self.end = data_end
        self.anchor = anchor
        self.speed = speed
        self._now = now

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def data_time(self) -> datetime:
        return self.start + ((self._now() - self.anchor) * self.speed) % self.span


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def bucket_start(minute: datetime, minutes: int) -> datetime:
    """The open time of the ``minutes``-long bucket holding ``minute``, aligned like ``candles.resample``."""
    elapsed = int((minute - EPOCH).total_seconds() // 60)
    return EPOCH + timedelta(minutes=elapsed - elapsed % minutes)


class ReplayMarketData:
    """``MarketData`` from the bundled files in ``data_dir``; symbols without a file are refused."""

    source = "replay"
    label = "Binance spot replay"

    def __init__(self, data_dir: Path, *, anchor: datetime, speed: int = 1, warmup: timedelta = DEFAULT_WARMUP,
                 now: Callable[[], datetime] = timezone.now, rules: dict[str, InstrumentRules] | None = None):
        self.files = bundled_files(data_dir)
        self.rules = {symbol: rule for symbol, rule in (rules or BUNDLED_RULES).items() if symbol in self.files}
        if not self.rules:
            raise ValueError(f"no bundled candle files for a known instrument in {data_dir}")
        self._anchor, self._speed, self._warmup, self._now = anchor, speed, warmup, now

    @functools.cached_property
    def clock(self) -> ReplayClock:
        frames = [self._frame(symbol) for symbol in self.rules]
        start = max(frame.index[0] for frame in frames).to_pydatetime()
        end = min(frame.index[-1] for frame in frames).to_pydatetime() + MINUTE
        return ReplayClock(data_start=start, data_end=end, anchor=self._anchor, speed=self._speed,
                           warmup=self._warmup, now=self._now)

    @property
    def symbols(self) -> list[str]:
        return sorted(self.rules)

    def now(self) -> datetime:
        return self.clock.data_time()

    def instrument(self, symbol: str) -> InstrumentRules:
        try:
            return self.rules[symbol]
        except KeyError:
            raise InvalidOrderError(
                f"{symbol} is not in the bundled replay data ({', '.join(self.symbols)}); "
                f"set MARKET_DATA=bybit to paper-trade other symbols on Bybit's prices") from None

    def _frame(self, symbol: str) -> pd.DataFrame:
        self.instrument(symbol)
        return load_minutes(str(self.files[symbol]))

    def _position(self, frame: pd.DataFrame, moment: datetime) -> int:
        return int(frame.index.searchsorted(pd.Timestamp(moment)))

    def ticker(self, symbol: str) -> Ticker:
        frame = self._frame(symbol)
        now = self.now()
        i = self._position(frame, floor_minute(now))
        price = _dec(frame["open"].iat[i])
        day_ago = max(0, i - 1440)
        reference = _dec(frame["open"].iat[day_ago])
        change = ((price / reference - 1) * 100).quantize(Decimal("0.01"))
        volume = _dec(round(float(frame["volume"].iloc[day_ago:i].sum()), 8))
        return Ticker(symbol=symbol, last_price=price, time=now, mark_price=price, change_24h_pct=change,
                      volume_24h=volume)

    def klines(self, symbol: str, interval: str, limit: int = 200) -> list[Candle]:
        """``limit`` candles, oldest first; the last is the one still forming at the replay clock."""
        frame = self._frame(symbol)
        minutes = INTERVAL_MINUTES[interval]
        minute = floor_minute(self.now())
        current = bucket_start(minute, minutes)
        first = current - timedelta(minutes=minutes * (limit - 1))
        i_current, i_now = self._position(frame, current), self._position(frame, minute)
        closed = _closed_candles(str(self.files[symbol]), interval, first, current)[-(limit - 1):] if limit > 1 else ()
        return [*closed, self._forming(frame, current, i_current, i_now)]

    @staticmethod
    def _forming(frame: pd.DataFrame, start: datetime, i_start: int, i_now: int) -> Candle:
        price = frame["open"].iat[i_now]
        passed = frame.iloc[i_start:i_now]
        open_ = passed["open"].iat[0] if len(passed) else price
        high = max(float(passed["high"].max()) if len(passed) else price, price)
        low = min(float(passed["low"].min()) if len(passed) else price, price)
        volume = round(float(np.sum(passed["volume"].to_numpy())), 8)
        return Candle(start=start, open=_dec(open_), high=_dec(high), low=_dec(low), close=_dec(price),
                      volume=_dec(volume))

    def minute_candles(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        """Closed 1-minute candles that opened at or after ``start`` and ended by ``end``."""
        if end <= start:
            return []
        frame = self._frame(symbol)
        i_start = self._position(frame, start)
        i_end = int(frame.index.searchsorted(pd.Timestamp(end - MINUTE), side="right"))
        return frame_to_candles(frame.iloc[i_start:i_end]) if i_end > i_start else []
