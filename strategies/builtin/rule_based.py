"""The two built-in strategies, scalping and trend following, on the SDK like any trader's own.

Their entry rules are the named conditions of ``strategies.rules`` (documented there) over the indicator columns of
``strategies.indicators``; their parameters are the indicator periods and thresholds (``strategies.config``), with
the same ranges, defaults and cross-checks (ema_short below ema_long ...) as before the SDK, so existing strategies
keep their settings and their signals.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from strategies.config import INDICATOR_PARAMS, MAX_PERIOD, validate_indicators
from strategies.indicators import (
    COMPUTED_WITH,
    INDICATOR_COLUMNS,
    SHORT_FRAME_ROWS,
    compute_indicators,
    config_key,
    settled_candles,
)
from strategies.live_pass import PieceCache, indicator_arrays
from strategies.rules import ROWS_READ, RULES, Condition
from strategies.sdk.base import IStrategy, LastRow
from strategies.sdk.parameters import DecimalParameter, IntParameter


def _declared() -> dict:
    """INDICATOR_PARAMS as SDK parameters (a period from 1 to 500 candles, a threshold within its range)."""
    parameters = {}
    for name, param in INDICATOR_PARAMS.items():
        high = param.maximum if param.maximum is not None else MAX_PERIOD
        if param.integer:
            parameters[name] = IntParameter(1, int(high), default=int(param.default), help=param.help)
        else:
            parameters[name] = DecimalParameter(0.01, float(high), default=float(param.default), decimals=2,
                                                help=param.help)
    return parameters


class RuleBased(IStrategy):
    """Shared by the built-ins: entries where every condition of one side holds (``strategies.rules``)."""

    abstract = True
    locals().update(_declared())

    @classmethod
    def clean_parameters(cls, values: dict | None) -> dict:
        # The built-ins keep their own validation (and its messages): ranges plus the cross-checks.
        return validate_indicators(values or {})

    def __init__(self, parameters: dict | None = None):
        super().__init__(parameters)
        self.startup_candle_count = settled_candles(self.parameters)
        self.indicator_key = config_key(self.parameters)  # what a frame's COMPUTED_WITH must say to be reused

    def conditions(self, frame: pd.DataFrame) -> list[Condition]:
        # Asked twice of the same frame (the entry trend, then explain_entry on its last row): computed once.
        cached = getattr(self, "_conditions", None)
        if cached is not None and cached[0] is frame:
            return cached[1]
        conditions = RULES[self.key()](_float_columns(frame, (*INDICATOR_COLUMNS, "close")), self.parameters)
        self._conditions = (frame, conditions)
        return conditions

    def populate_indicators(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        # A frame that already went through compute_indicators with these periods keeps its columns (computed
        # once, read by both built-ins); with other periods, or columns of unknown origin, they are computed afresh.
        if frame.attrs.get(COMPUTED_WITH) == self.indicator_key:
            return frame
        present = [name for name in INDICATOR_COLUMNS if name in frame.columns]
        return compute_indicators(frame.drop(columns=present) if present else frame, self.parameters)

    def populate_entry_trend(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        long_ = np.ones(len(frame), dtype=bool)
        short = np.ones(len(frame), dtype=bool)
        for condition in self.conditions(frame):
            if condition.side == "LONG":
                long_ &= condition.mask
            else:
                short &= condition.mask
        frame["enter_long"], frame["enter_short"] = long_, short
        return frame

    def explain_entry(self, frame: pd.DataFrame, row: int, side: str) -> list[str]:
        """The conditions of ``side`` with their numbers; on HOLD every condition of both sides, met or not."""
        return _explain(self.conditions(frame), row, side)

    def last_row(self, frame: pd.DataFrame, metadata: dict, shared: dict) -> LastRow | None:
        """The live cycle's question without pandas: the indicators as arrays (``strategies.live_pass``, shared by
        every built-in on these candles), the conditions over their last ``ROWS_READ`` rows. The same signal,
        reasons and numbers as the hooks: ``tests/strategies/test_last_row.py`` compares them on every candle."""
        if not _hooks_unchanged(type(self)):
            return None  # a subclass that changed what the hooks do: only they know what it computes
        cache = shared.get(PieceCache)  # False: these candles are not for the live pass
        if cache is None:
            # Plain float candles only (what the cycle fetches): other columns would be part of the hooks' snapshot,
            # and a long frame's indicators come from ``ta``, not from the numpy functions of the live pass.
            cache = shared[PieceCache] = len(frame) <= SHORT_FRAME_ROWS and _plain_candles(frame) and PieceCache(
                *(frame[name].to_numpy(dtype="float64") for name in ("high", "low", "close")))  # as compute_indicators
        if cache is False:
            return None
        columns = indicator_arrays(cache, self.parameters)
        last = {name: values[-ROWS_READ:] for name, values in columns.items()}
        last["close"] = cache.close[-ROWS_READ:]
        conditions, row = RULES[self.key()](last, self.parameters), len(last["close"]) - 1
        snapshot = {name: float(values[-1]) for name, values in columns.items()}
        return LastRow(
            enter_long=all(c.mask[row] for c in conditions if c.side == "LONG"),
            enter_short=all(c.mask[row] for c in conditions if c.side == "SHORT"),
            explain=lambda side: _explain(conditions, row, side),
            indicators={name: (value if math.isfinite(value) else None) for name, value in snapshot.items()})


def _explain(conditions: list[Condition], row: int, side: str) -> list[str]:
    if side != "HOLD":
        return [f"{c.label} ({c.values(row)})" for c in conditions if c.side == side]
    reasons = []
    for wanted in ("LONG", "SHORT"):
        for c in conditions:
            if c.side == wanted:
                state = "met" if c.mask[row] else "not met"
                reasons.append(f"{wanted} {state}: {c.label} ({c.values(row)})")
    return reasons


@functools.cache
def _hooks_unchanged(cls: type) -> bool:
    """Whether ``cls`` computes its signals and reasons as the built-ins do (``last_row`` answers for them)."""
    return all(getattr(cls, name) is getattr(owner, name) for owner, names in (
        (RuleBased, ("populate_indicators", "populate_entry_trend", "explain_entry", "conditions")),
        (IStrategy, ("populate_exit_trend",))) for name in names)


def _plain_candles(frame: pd.DataFrame) -> bool:
    names = set(frame.columns)
    return (len(names) == len(frame.columns) and {"high", "low", "close"} <= names <= PLAIN_CANDLE_COLUMNS
            and all(dtype == np.float64 for dtype in frame.dtypes))


PLAIN_CANDLE_COLUMNS = frozenset({"open", "high", "low", "close", "volume"})


def _float_columns(frame: pd.DataFrame, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``names`` as float64 arrays. An all-float frame (compute_indicators' own) is read as one array, a pandas
    lookup per column costing more, on a live cycle's 200 rows, than the rules themselves."""
    if all(dtype == np.float64 for dtype in frame.dtypes):
        positions = {name: position for position, name in enumerate(frame.columns)}
        values = frame.to_numpy()
        return {name: values[:, positions[name]] for name in names}
    return {name: frame[name].to_numpy(dtype="float64") for name in names}


class Scalping(RuleBased):
    """Mean reversion on stretched moves: RSI and the Bollinger bands stretched, the MACD histogram turning, the
    Stochastic crossing."""

    strategy_key = "scalping"
    timeframe = "5"


class TrendFollowing(RuleBased):
    """Join a new trend: the fast EMA crossing the slow one, with MACD agreeing and RSI not exhausted."""

    strategy_key = "trend_following"
    timeframe = "15"
