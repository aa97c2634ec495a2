"""Signals: LONG, SHORT or HOLD for a candle frame, with the reasons, for any strategy class. Pure: no I/O.

Every strategy, built-in or a trader's file, is a class of the catalogue (``strategies.catalogue``) and runs through
the SDK kernel (``strategies.sdk.kernel.populate``): ``signal_series`` gives the action of every row at once (the
backtester's view), ``evaluate`` the last closed candle's action with its reasons (the live cycle's view). Both
read the same ``Populated`` entries, so ``evaluate(...).action`` always equals the last value of ``signal_series``
(before multiple-timeframe confirmation). The reasons are the class's ``explain_entry`` (the built-ins: their
conditions, met or not), else the row's ``enter_tag``. The one exception to "the same entries": a class that answers
for the last row alone (``IStrategy.last_row``, the built-ins) is asked that by ``evaluate``, which must be, and for
the built-ins is, the same Signal without a pass over every row in pandas (``tests/strategies/test_last_row.py``
compares the two on every window of the bundled month).

Multiple-timeframe confirmation: when a strategy names a higher ``confirm_timeframe``, its trend (EMA short above
EMA long: up, below: down) must agree with the signal's direction, or the signal becomes HOLD. The periods are the
strategy's ``ema_short``/``ema_long`` parameters when it declares them, else the built-ins' defaults (9 and 21).
``confirm_series`` applies the same rule to a whole backtest, using for each candle only the higher-timeframe
candles that had closed by then.

Nothing here raises anything but ``StrategyError`` (the kernel's): the cycle records it and moves on.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from ta.trend import EMAIndicator

from market.intervals import interval_delta
from strategies.catalogue import known_types, strategy_class
from strategies.config import indicator_defaults
from strategies.indicators import COMPUTED_WITH, compute_indicators
from strategies.rules import fmt
from strategies.sdk.base import IStrategy
from strategies.sdk.kernel import (
    ENTRY_COLUMNS,
    EXIT_COLUMNS,
    Populated,
    StrategyError,
    _where,
    populate,
    populate_last_row,
)
from strategies.sdk.parameters import ParameterError

__all__ = ["Action", "Signal", "SignalMemo", "StrategyError", "confirm_series", "evaluate", "higher_trend",
           "instantiate", "populated", "signal_series"]

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
SIGNAL_COLUMNS = (*ENTRY_COLUMNS, *EXIT_COLUMNS, "enter_tag", "exit_tag")


class Action(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"
    HOLD = "HOLD"


ACTIONS = {1: Action.LONG, -1: Action.SHORT, 0: Action.HOLD}


@dataclass(frozen=True)
class Signal:
    action: Action
    reasons: tuple[str, ...]
    candle_time: datetime  # open time of the last closed candle
    price: Decimal  # its close
    indicators: dict[str, float | None]  # that row's indicator values, JSON-safe
    # The last row's exit signals (populate_exit_trend), for the cycle to act on an open position.
    exit_long: bool = False
    exit_short: bool = False
    exit_tag: str = ""
    # The instance that gave the signal: the cycle asks it custom_exit / custom_stoploss about an open trade.
    strategy: IStrategy | None = field(default=None, compare=False, repr=False)


def instantiate(strategy_type: str, config: dict | None) -> IStrategy:
    """An instance of the catalogue's class ``strategy_type`` with these parameter values (checked)."""
    cls = strategy_class(strategy_type)
    if cls is None:
        raise StrategyError(f"unknown strategy type {strategy_type!r}; known: {', '.join(known_types())}")
    try:
        return cls(config)
    except (ParameterError, ValidationError) as error:
        raise StrategyError(f"{strategy_type}: {_describe(error)}") from error


def populated(strategy_type: str, frame: pd.DataFrame, config: dict | None,
              metadata: dict | None = None) -> Populated:
    """The class's hooks run over ``frame`` (closed candles): its columns and every row's signals."""
    return populate(instantiate(strategy_type, config), frame, _metadata(metadata))


def signal_series(strategy_type: str, frame: pd.DataFrame, config: dict | None, *,
                  metadata: dict | None = None) -> np.ndarray:
    """+1 (LONG), -1 (SHORT) or 0 (HOLD) for every row of ``frame``; rows before the class's
    ``startup_candle_count`` hold (the live cycle holds with that few candles too)."""
    return populated(strategy_type, frame, config, metadata).entries


def evaluate(strategy_type: str, frame: pd.DataFrame, config: dict | None, *,
             higher_frame: pd.DataFrame | None = None, metadata: dict | None = None) -> Signal:
    """The action for the last (closed) candle of ``frame``, with the reasons for it."""
    return evaluate_with(instantiate(strategy_type, config), frame, higher_frame=higher_frame, metadata=metadata)


def evaluate_with(strategy: IStrategy, frame: pd.DataFrame, *, higher_frame: pd.DataFrame | None = None,
                  metadata: dict | None = None, shared: dict | None = None, every_row: bool = False) -> Signal:
    """``evaluate`` for an instance already made (``instantiate``). A class that answers for the last row alone
    (``IStrategy.last_row``: the built-ins) is asked that, unless ``every_row`` (the hooks over every row, as a
    backtest runs them: the same Signal, the tests check). ``shared``: kept by the caller per candles, for one
    run (``SignalMemo``), so that strategies on the same candles share what they compute on them."""
    strategy_type = type(strategy).key()
    if frame.empty:
        raise StrategyError(f"{strategy_type}: the candle frame is empty")
    needed = strategy.startup_candle_count
    if len(frame) < needed:
        snapshot = _warming_up_snapshot(strategy, frame, _metadata(metadata))
        return _signal(frame, snapshot, Action.HOLD, [
            f"Not enough candles: these indicator periods need {needed} closed candles, got {len(frame)}."])
    last = None if every_row else populate_last_row(strategy, frame, _metadata(metadata),
                                                    {} if shared is None else shared)
    if last is not None:
        entry, row = last
        action = ACTIONS[entry]
        reasons = _explain(strategy, row.explain, action, row.enter_tag)
        snapshot, exits = row.indicators, {"exit_long": bool(row.exit_long), "exit_short": bool(row.exit_short),
                                           "exit_tag": row.exit_tag if isinstance(row.exit_tag, str) else ""}
    else:
        hooks_frame = frame if shared is None else _with_indicators(strategy, frame, shared)
        result = populate(strategy, hooks_frame, _metadata(metadata))
        row = len(frame) - 1
        action = ACTIONS[int(result.entries[row])]
        reasons = _explain(strategy, functools.partial(strategy.explain_entry, result.frame, row), action,
                           result.tag(row))
        snapshot, exits = indicator_snapshot(result.frame), {
            "exit_long": bool(result.exit_long[row]), "exit_short": bool(result.exit_short[row]),
            "exit_tag": result.tag(row, "exit_tag")}
    if action != Action.HOLD and higher_frame is not None:
        confirmed, why = _confirm(action, higher_frame, strategy.parameters)
        reasons.append(why)
        if not confirmed:
            action = Action.HOLD
    return _signal(frame, snapshot, action, reasons, shared, strategy=strategy, **exits)


class SignalMemo:
    """One cycle run's signals, each computed once and shared by the strategies that ask the same question: one
    ``evaluate`` per (candles, class, parameters, confirmation candles), and what the evaluations compute on the
    same candles (the built-ins: their indicators, ``strategies.live_pass``) once per candles, shared across classes
    and parameters. The candles are named by the caller's key (symbol, interval); a memo lives for one run, whose
    candles do not change.
    """

    def __init__(self):
        self._signals: dict[tuple, Signal | StrategyError] = {}
        self._shared: dict[tuple, dict] = {}
        self._instances: dict[tuple, IStrategy] = {}

    def evaluate(self, strategy_type: str, frame: pd.DataFrame, config: dict | None, *, frame_key: tuple,
                 higher_frame: pd.DataFrame | None = None, higher_key: tuple | None = None,
                 metadata: dict | None = None) -> Signal:
        key = (frame_key, strategy_type, _config_key(config), higher_key if higher_frame is not None else None)
        if key not in self._signals:
            try:
                strategy = self._instance(strategy_type, config, key[1:3])
                self._signals[key] = evaluate_with(strategy, frame, higher_frame=higher_frame, metadata=metadata,
                                                   shared=self._shared.setdefault(frame_key, {}))
            except StrategyError as error:
                self._signals[key] = error
        result = self._signals[key]
        if isinstance(result, StrategyError):
            raise result
        return result

    def _instance(self, strategy_type: str, config: dict | None, key: tuple) -> IStrategy:
        """A fresh instance, except a built-in's (``indicator_key``): those keep nothing between frames, so one per
        class and parameters serves every symbol (checking the parameters cost more than a small evaluation)."""
        if key in self._instances:
            return self._instances[key]
        strategy = instantiate(strategy_type, config)
        if getattr(strategy, "indicator_key", None) is not None:
            self._instances[key] = strategy
        return strategy


def _with_indicators(strategy: IStrategy, frame: pd.DataFrame, shared: dict) -> pd.DataFrame:
    """``frame`` with the built-in indicator columns, when the class reads them (it then skips its own pass),
    computed once per periods for the candles ``shared`` belongs to."""
    periods = getattr(strategy, "indicator_key", None)
    if periods is None:
        return frame
    key = (COMPUTED_WITH, periods)
    if key not in shared:
        shared[key] = compute_indicators(frame, strategy.parameters)
    computed = shared[key]
    return computed if computed.attrs.get(COMPUTED_WITH) == periods else frame


def trend_periods(config: dict | None) -> tuple[int, int]:
    """The EMA periods of the confirmation trend: the strategy's ema_short/ema_long, else the built-in defaults."""
    defaults, config = indicator_defaults(), config or {}
    return int(config.get("ema_short", defaults["ema_short"])), int(config.get("ema_long", defaults["ema_long"]))


def higher_trend(higher_frame: pd.DataFrame, config: dict | None) -> np.ndarray:
    """+1 where the higher timeframe's EMA short is above its EMA long, -1 below, 0 equal or unknown."""
    short, long_ = _trend_emas(higher_frame, config)
    return np.sign(np.nan_to_num(short - long_, nan=0.0)).astype(np.int8)


def confirm_series(signals: np.ndarray, frame: pd.DataFrame, interval: str, higher_frame: pd.DataFrame,
                   higher_interval: str, config: dict | None) -> np.ndarray:
    """``signals`` with every entry that the higher timeframe's trend (as known then) disagrees with set to 0."""
    try:
        trend = np.append(higher_trend(higher_frame, config), np.int8(0))  # index -1: no higher candle yet
        closes_at = (frame.index + interval_delta(interval)).asi8
        higher_closes_at = (higher_frame.index + interval_delta(higher_interval)).asi8
        # The newest higher candle that had closed when each candle closed.
        latest = np.searchsorted(higher_closes_at, closes_at, side="right") - 1
        return np.where(np.sign(signals) == trend[latest], signals, 0).astype(np.int8)
    except (KeyError, ValueError, TypeError) as error:
        raise StrategyError(f"confirmation: {_describe(error)}") from error


def _config_key(config: dict | None) -> str:
    if not config:
        return "{}"  # most strategies keep the default periods; asked once per pair
    return json.dumps(config, sort_keys=True, default=str)


def _metadata(metadata: dict | None) -> dict:
    return {"informative": {}, **(metadata or {})}


def _explain(strategy: IStrategy, explain, action: Action, enter_tag: str) -> list[str]:
    """``explain(action)`` (the class's explain_entry on the row), else the row's enter_tag or a default."""
    try:
        reasons = list(explain(action.value))
    except Exception as error:  # noqa: BLE001 - a strategy's own code: reported like a populate hook's error
        raise StrategyError(f"{type(strategy).key()}.explain_entry raised {type(error).__name__}: {error}"
                            f"{_where(strategy)}") from error
    if reasons:
        return reasons
    if action == Action.HOLD:
        return ["No entry signal on this candle."]
    return [enter_tag or f"enter_{action.value.lower()} signal"]


def _warming_up_snapshot(strategy: IStrategy, frame: pd.DataFrame, metadata: dict) -> dict:
    """The indicators as far as they go on too few candles; none when the hooks cannot run on so few (the HOLD
    says why: not enough candles)."""
    try:
        return indicator_snapshot(populate(strategy, frame, metadata).frame)
    except StrategyError:
        return {}


def _signal(frame: pd.DataFrame, snapshot: dict, action: Action, reasons: list[str], shared: dict | None = None,
            **exits) -> Signal:
    candle = None if shared is None else shared.get(LAST_CANDLE)
    if candle is None:  # asked once per candles when shared: pandas' lookups cost more than a built-in's decision
        candle = (frame.index[-1].to_pydatetime(), Decimal(repr(float(frame["close"].iat[-1]))))
        if shared is not None:
            shared[LAST_CANDLE] = candle
    return Signal(action=action, reasons=tuple(reasons), candle_time=candle[0], price=candle[1], indicators=snapshot,
                  **exits)


LAST_CANDLE = "last candle: open time, close"


def indicator_snapshot(frame: pd.DataFrame, row: int = -1) -> dict[str, float | None]:
    """A row's indicator values (the last by default): every numeric column the hooks added (for the built-ins,
    exactly ``strategies.indicators.INDICATOR_COLUMNS``). What the AI is shown, live and in a backtest's estimate."""
    positions = [position for position, (name, dtype) in enumerate(frame.dtypes.items())
                 if name not in CANDLE_COLUMNS and name not in SIGNAL_COLUMNS
                 and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)]
    if not positions:
        return {}
    row, names = row % len(frame), frame.columns  # cell by cell: a live cycle asks this per pair, and pandas'
    values = (float(frame.iat[row, position]) for position in positions)  # row lookups cost more than these
    return {str(names[position]): (value if np.isfinite(value) else None)
            for position, value in zip(positions, values, strict=True)}


def _trend_emas(frame: pd.DataFrame, config: dict | None) -> tuple[np.ndarray, np.ndarray]:
    short_period, long_period = trend_periods(config)
    close = frame["close"].astype("float64")
    short = EMAIndicator(close, window=short_period).ema_indicator().to_numpy(dtype="float64")
    long_ = EMAIndicator(close, window=long_period).ema_indicator().to_numpy(dtype="float64")
    return short, long_


def _confirm(action: Action, higher_frame: pd.DataFrame, config: dict) -> tuple[bool, str]:
    short_period, long_period = trend_periods(config)
    if len(higher_frame) < long_period:
        return False, (f"Higher timeframe cannot confirm: its EMA {long_period} needs "
                       f"{long_period} closed candles, got {len(higher_frame)}.")
    short, long_ = _trend_emas(higher_frame, config)
    trend = int(np.sign(short[-1] - long_[-1]))
    wanted = 1 if action == Action.LONG else -1
    direction = {1: "up", -1: "down", 0: "flat"}[trend]
    values = f"EMA {short_period} {fmt(short[-1])}, EMA {long_period} {fmt(long_[-1])}"
    if trend == wanted:
        return True, f"Higher timeframe trend is {direction} ({values}): {action} confirmed."
    return False, f"Higher timeframe trend is {direction} ({values}): {action} not confirmed, holding."


def _describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, KeyError):
        return f"missing column {error}"
    return str(error) or type(error).__name__
