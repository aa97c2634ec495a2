"""Running a strategy class on candles: the one path the live cycle, backtests and the optimiser share.

``populate`` calls the hooks on a copy of the frame and reads the signal columns into arrays: ``entries`` (+1 enter
long, -1 enter short, 0 hold) and ``exits`` (two bool arrays). The last row is what the live cycle acts on; every
row is what a backtest replays. Rows before ``startup_candle_count`` hold, live and in backtests alike.
``populate_last_row`` asks a class that offers it (``IStrategy.last_row``: the built-ins) for the last row alone,
which is all the live cycle reads; it must give what ``populate`` gives there.

Whatever a hook raises becomes a ``StrategyError`` naming the strategy, the hook, and the file and line in the
strategy's own file: the cycle holds that strategy's pairs and shows the message; other strategies trade on.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from market.intervals import interval_delta
from strategies.sdk.base import IStrategy, LastRow, bybit_interval

ENTRY_COLUMNS = ("enter_long", "enter_short")
EXIT_COLUMNS = ("exit_long", "exit_short")


class StrategyError(Exception):
    """A strategy could not be evaluated; the message says which, where, and why."""


@dataclass(frozen=True)
class Populated:
    frame: pd.DataFrame  # the candles with the strategy's indicator and signal columns
    entries: np.ndarray  # int8 per row: +1 enter long, -1 enter short, 0 hold
    exit_long: np.ndarray  # bool per row
    exit_short: np.ndarray  # bool per row
    # The instance that ran: custom_exit / custom_stoploss are asked of it (it may keep what populate computed).
    strategy: IStrategy | None = field(default=None, compare=False, repr=False)

    def tag(self, row: int, column: str = "enter_tag") -> str:
        if column not in self.frame.columns:
            return ""
        value = self.frame[column].iat[row]
        return value if isinstance(value, str) else ""


def populate(strategy: IStrategy, frame: pd.DataFrame, metadata: dict) -> Populated:
    """Run the three population hooks on ``frame`` (closed candles) and read their signals."""
    if frame.empty:
        raise StrategyError(f"{_name(strategy)}: the candle frame is empty")
    # Shallow: pandas' copy-on-write (always on since pandas 3) copies a column only when a hook writes to it, so
    # the caller's frame stays as it was without copying a million rows up front.
    working = frame.copy(deep=False)
    for hook in ("populate_indicators", "populate_entry_trend", "populate_exit_trend"):
        working = _call(strategy, hook, working, metadata, rows=len(frame))
    entries = _entries(strategy, working)
    entries[:max(0, strategy.startup_candle_count - 1)] = 0
    return Populated(frame=working, entries=entries, exit_long=_flag(working, "exit_long"),
                     exit_short=_flag(working, "exit_short"), strategy=strategy)


def populate_last_row(strategy: IStrategy, frame: pd.DataFrame, metadata: dict,
                      shared: dict) -> tuple[int, LastRow] | None:
    """The class's ``last_row`` (when it offers one for this frame): the last row's entry, read as ``populate``
    reads ``entries`` (+1, -1 or 0), and what the hook gave. None: the class wants ``populate``."""
    if frame.empty:
        raise StrategyError(f"{_name(strategy)}: the candle frame is empty")
    found = call_hook(strategy, "last_row", frame, metadata, shared)
    if found is None:
        return None
    if not isinstance(found, LastRow):
        raise StrategyError(f"{_name(strategy)}.last_row must return a LastRow or None, got {type(found).__name__}")
    short = bool(found.enter_short) and strategy.can_short
    entry = 0 if len(frame) < strategy.startup_candle_count else int(bool(found.enter_long)) - int(short)
    return entry, found


def merge_informative(frame: pd.DataFrame, informative: pd.DataFrame, timeframe: str, informative_timeframe: str,
                      columns: list[str] | None = None) -> pd.DataFrame:
    """``frame`` with ``informative``'s columns (suffixed ``_<timeframe>``, e.g. ``close_60``) added, each row seeing
    the newest informative candle that had closed when the row's own candle closed: never one still forming."""
    own, higher = bybit_interval(timeframe), bybit_interval(informative_timeframe)
    closes_at = (frame.index + interval_delta(own)).as_unit("ns").asi8
    higher_closes_at = (informative.index + interval_delta(higher)).as_unit("ns").asi8
    latest = np.searchsorted(higher_closes_at, closes_at, side="right") - 1
    merged = frame.copy()
    for column in columns or list(informative.columns):
        values = informative[column].to_numpy()
        taken = np.where(latest >= 0, values[np.clip(latest, 0, None)], np.nan) if len(values) else np.nan
        merged[f"{column}_{higher}"] = taken
    return merged


def _call(strategy: IStrategy, hook: str, frame: pd.DataFrame, metadata: dict, *, rows: int) -> pd.DataFrame:
    result = call_hook(strategy, hook, frame, metadata)
    if not isinstance(result, pd.DataFrame):
        raise StrategyError(f"{_name(strategy)}.{hook} must return the frame, got {type(result).__name__}")
    if len(result) != rows:
        raise StrategyError(f"{_name(strategy)}.{hook} returned {len(result)} rows for {rows} candles: the hooks "
                            f"add columns, they never drop or add rows")
    return result


def call_hook(strategy: IStrategy, hook: str, *args):
    """``strategy.<hook>(*args)``, anything it raises reported as a ``StrategyError`` with its file and line."""
    try:
        return getattr(strategy, hook)(*args)
    except Exception as error:  # noqa: BLE001 - a strategy's own code: anything it raises is reported, not raised
        raise StrategyError(f"{_name(strategy)}.{hook} raised {type(error).__name__}: {error}"
                            f"{_where(strategy)}") from error


def _entries(strategy: IStrategy, frame: pd.DataFrame) -> np.ndarray:
    long_ = _flag(frame, "enter_long")
    short = _flag(frame, "enter_short") if strategy.can_short else np.zeros(len(frame), dtype=bool)
    # Both on one row cancel out: no entry is better than a coin toss.
    return long_.astype(np.int8) - short.astype(np.int8)


def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    values = frame[column]
    if values.dtype == bool:
        return values.to_numpy(copy=True)
    return values.fillna(False).astype(bool).to_numpy(copy=True)


def _name(strategy: IStrategy) -> str:
    return type(strategy).key()


def _where(strategy: IStrategy) -> str:
    """" (path:line)" of the innermost traceback frame in the strategy's own file, when there is one."""
    module = sys.modules.get(type(strategy).__module__)
    path = getattr(module, "__file__", None)
    if not path:
        return ""
    inside = [frame for frame in traceback.extract_tb(sys.exc_info()[2]) if frame.filename == path]
    return f" ({Path(path).name}:{inside[-1].lineno})" if inside else ""
