"""Where a backtest's 1-minute candles come from, and what is wrong with them.

Three sources, one frame shape (``market.candles``: float64 OHLCV indexed by UTC open time):

- ``bundled``: the real month shipped in ``exchange/data/`` (Binance spot, see its README);
- a CSV or Parquet file given by path (``timestamp_ms`` or a date-time column, plus ``open high low
  close volume``; Parquet needs pyarrow);
- ``cache``: what ``manage.py download_candles`` fetched from Bybit into ``TRADEBOT_DATA_DIR/candles``.

Gaps (missing minutes) are listed, never filled: a missing minute stays missing, higher timeframes
drop the buckets it belongs to (``market.candles.resample``), and the report shows them. The
checksum covers every candle the run read (warm-up included), so two runs on the same data say so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings

from exchange.downloader import cache_directory, funding_path, read_funding
from exchange.replay import load_minutes
from market.candles import COLUMNS, bundled_files, find_gaps
from market.instruments import check_symbol

BUNDLED, CACHE = "bundled", "cache"
TIME_COLUMNS = ("timestamp_ms", "timestamp", "start", "open_time", "datetime", "date", "time")


class DataError(ValueError):
    """The candles cannot be used as asked; the message says why and what is available."""


class RangeError(DataError):
    """The candles hold nothing in the range asked for."""


@dataclass(frozen=True)
class Gap:
    after: datetime  # the last candle before the hole
    before: datetime  # the first candle after it
    missing: int  # minutes

    def as_dict(self) -> dict:
        return {"after": self.after.isoformat(), "before": self.before.isoformat(), "missing_minutes": self.missing}


@dataclass(frozen=True)
class CandleData:
    symbol: str
    frame: pd.DataFrame  # 1-minute candles from the warm-up's start to ``end``
    source: str  # bundled, cache, or the file's path
    label: str  # what the prices are, for people
    start: datetime  # first traded minute (inclusive)
    end: datetime  # exclusive
    trade_from: int  # index in ``frame`` of the first minute at or after ``start``
    gaps: tuple[Gap, ...]
    checksum: str

    @property
    def candles(self) -> int:
        return len(self.frame) - self.trade_from

    def describe(self) -> dict:
        frame = self.frame
        return {"symbol": self.symbol, "source": self.source, "label": self.label, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "candles": self.candles, "warmup_candles": self.trade_from,
                "first_candle": frame.index[self.trade_from].isoformat() if self.candles else None,
                "last_candle": frame.index[-1].isoformat() if len(frame) else None,
                "gaps": [gap.as_dict() for gap in self.gaps], "checksum": self.checksum}


def load_candles(symbol: str, start: datetime, end: datetime, *, source: str = BUNDLED,
                 warmup: timedelta = timedelta(0)) -> CandleData:
    """1-minute candles of ``symbol`` over ``[start, end)``, plus ``warmup`` before it when there is some."""
    check_symbol(symbol)
    if end <= start:
        raise DataError(f"the range is empty: {start:%Y-%m-%d %H:%M} is not before {end:%Y-%m-%d %H:%M}")
    full, label = read_source(symbol, source)
    begin = pd.Timestamp(start - warmup)
    frame = full[(full.index >= begin) & (full.index < pd.Timestamp(end))]
    trade_from = int(frame.index.searchsorted(pd.Timestamp(start)))
    if trade_from >= len(frame):
        span = (f"{full.index[0]:%Y-%m-%d %H:%M} to {full.index[-1]:%Y-%m-%d %H:%M} UTC" if len(full)
                else "nothing")
        raise DataError(f"no {symbol} candles from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC in {source} "
                        f"(it has {span})")
    gaps = tuple(Gap(after.to_pydatetime(), before.to_pydatetime(), int((before - after) / pd.Timedelta(minutes=1)) - 1)
                 for after, before in find_gaps(frame.iloc[trade_from:], "1"))
    return CandleData(symbol=symbol, frame=frame, source=source, label=label, start=start, end=end,
                      trade_from=trade_from, gaps=gaps, checksum=checksum(frame))


@dataclass(frozen=True)
class Span:
    """The range a run covers: what was asked for, cut to what the candles hold; ``note`` says when it was cut."""

    start: datetime
    end: datetime
    note: str = ""


def coverage(symbol: str, source: str) -> tuple[datetime, datetime]:
    """The first candle's open and the end (exclusive) of the last one."""
    frame, _ = read_source(symbol, source)
    if not len(frame):
        raise DataError(f"{source} holds no {symbol} candles")
    return frame.index[0].to_pydatetime(), frame.index[-1].to_pydatetime() + timedelta(minutes=1)


def fit_range(symbol: str, source: str, start: datetime | None, end: datetime | None, warmup: timedelta) -> Span:
    """``[start, end)`` cut to the candles there are; by default all of them after ``warmup`` (the history the
    live cycle would have had). A run over years the data does not have would report figures (CAGR) for a
    range it never saw, so the stored range is the one that runs, and the note says what was cut and why.
    A range the candles do not reach at all raises DataError, saying what they cover."""
    first, stop = coverage(symbol, source)
    covers = f"{first:%Y-%m-%d %H:%M} to {stop:%Y-%m-%d %H:%M} UTC"
    if (start is not None and start >= stop) or (end is not None and end <= first):
        asked = f"{start or first:%Y-%m-%d %H:%M} to {end or stop:%Y-%m-%d %H:%M} UTC"
        raise RangeError(f"no {symbol} candles from {asked} in {source}: the data covers {covers}")
    begin = start if start is not None and start >= first else first + warmup
    finish = stop if end is None else min(end, stop)
    if finish <= begin:
        raise RangeError(f"the range is empty: {begin:%Y-%m-%d %H:%M} is not before {finish:%Y-%m-%d %H:%M} "
                        f"(the data covers {covers}, the first {warmup} of it as warm-up)")
    cut = (start is not None and start < first) or (end is not None and end > stop)
    note = (f"The {symbol} candles cover only {covers}: the run covers {begin:%Y-%m-%d %H:%M} to "
            f"{finish:%Y-%m-%d %H:%M} UTC.") if cut else ""
    return Span(begin, finish, note)


def funding_rates(symbol: str, source: str) -> dict[int, Decimal]:
    """The funding rates known for ``symbol`` (``manage.py download_candles --funding`` keeps them beside the
    candles: the download cache, the bundled directory, or beside a candle file); {} when none are."""
    downloaded = settings.DATA_DIR / "candles"
    roots = {BUNDLED: [downloaded, settings.CANDLE_DATA_DIR], CACHE: [downloaded]}.get(source, [Path(source).parent])
    for root in roots:
        rates = read_funding(funding_path(root, symbol))
        if rates:
            return rates
    return {}


def read_source(symbol: str, source: str) -> tuple[pd.DataFrame, str]:
    if source == BUNDLED:
        files = bundled_files(settings.CANDLE_DATA_DIR)
        if symbol not in files:
            raise DataError(f"no bundled candles for {symbol}; bundled: {', '.join(files)} "
                            f"(or download them: manage.py download_candles --symbol {symbol})")
        return load_minutes(str(files[symbol])), "Binance spot 1-minute candles (bundled)"
    if source == CACHE:
        return read_cache(symbol), "Bybit linear 1-minute candles (downloaded)"
    return read_file(Path(source)), f"1-minute candles from {Path(source).name}"


def read_cache(symbol: str, root: Path | None = None) -> pd.DataFrame:
    directory = cache_directory(root or settings.DATA_DIR / "candles", symbol)
    pages = sorted(directory.glob("*.csv")) if directory.is_dir() else []
    if not pages:
        raise DataError(f"no downloaded {symbol} candles in {directory}; run "
                        f"manage.py download_candles --symbol {symbol} --from ... --to ...")
    frames = [frame for frame in (pd.read_csv(page) for page in pages) if len(frame)]
    if not frames:
        raise DataError(f"the downloaded {symbol} pages in {directory} hold no candles")
    return _normalise(pd.concat(frames, ignore_index=True), str(directory))


def read_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"no such candle file: {path}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            raw = pd.read_parquet(path)
        else:
            raw = pd.read_csv(path)
    except ImportError as error:
        raise DataError(f"{path.name}: reading Parquet needs pyarrow ({error})") from None
    except (OSError, ValueError) as error:
        raise DataError(f"{path.name}: not a readable candle file ({error})") from None
    if isinstance(raw.index, pd.DatetimeIndex):
        raw = raw.reset_index(names="start")
    return _normalise(raw, path.name)


def _normalise(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    """Any accepted layout to a candle frame; refuses what a backtest cannot trust."""
    raw = raw.rename(columns={column: str(column).strip().lower() for column in raw.columns})
    missing = [column for column in COLUMNS if column not in raw.columns]
    time_column = next((column for column in TIME_COLUMNS if column in raw.columns), None)
    if missing or time_column is None:
        needed = missing + ([] if time_column else ["a time column (" + " or ".join(TIME_COLUMNS) + ")"])
        raise DataError(f"{name}: missing {', '.join(needed)}")
    times = raw[time_column]
    numbers = None if pd.api.types.is_datetime64_any_dtype(times) else pd.to_numeric(times, errors="coerce")
    if numbers is not None and len(times) and numbers.notna().all():  # epoch ms (or seconds, when small enough)
        unit = "ms" if time_column == "timestamp_ms" or numbers.abs().max() > 10**11 else "s"
        index = pd.to_datetime(numbers.astype("int64"), unit=unit, utc=True)
    else:
        try:
            index = pd.to_datetime(times, utc=True)
        except (ValueError, TypeError) as error:
            raise DataError(f"{name}: unreadable time in {time_column!r} ({error})") from None
    values = raw[COLUMNS].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(index, name="start").as_unit("ns"), columns=COLUMNS)
    if not np.isfinite(values).all():
        raise DataError(f"{name}: {int((~np.isfinite(values)).any(axis=1).sum())} row(s) have a missing or "
                        f"non-numeric price or volume")
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    bad = (frame["high"] < frame[["open", "close"]].max(axis=1)) | (frame["low"] > frame[["open", "close"]].min(axis=1))
    if bad.any() or (frame[["open", "high", "low", "close"]] <= 0).any().any():
        first = frame.index[bad][0] if bad.any() else frame.index[0]
        raise DataError(f"{name}: impossible candles (high below open/close, low above them, or a price <= 0), "
                        f"first at {first:%Y-%m-%d %H:%M}")
    off_minute = frame.index.as_unit("ns").asi8 % 60_000_000_000 != 0
    if off_minute.any():
        raise DataError(f"{name}: candle times must be whole minutes (first odd one: {frame.index[off_minute][0]})")
    return frame


def checksum(frame: pd.DataFrame) -> str:
    """sha256 over the open times and OHLCV of every candle, in order."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(frame.index.as_unit("ns").asi8).tobytes())
    digest.update(np.ascontiguousarray(frame[COLUMNS].to_numpy(dtype="float64")).tobytes())
    return digest.hexdigest()
