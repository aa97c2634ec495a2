"""Signals: LONG, SHORT or HOLD for a candle frame, with the reasons. Pure functions, no I/O.

``signal_series`` gives the action of every row at once (the backtester's view); ``evaluate`` gives
the last closed candle's action with its reasons (the live cycle's view; ``explain`` is its core,
for a frame that already has indicators). All read the same condition masks from
``strategies.rules`` (where each strategy's rules are documented), so ``evaluate(...).action``
always equals the last value of ``signal_series`` (before multiple-timeframe confirmation).

Multiple-timeframe confirmation: when a strategy names a higher ``confirm_timeframe``, its trend
(EMA short above EMA long: up, below: down) must agree with the signal's direction, or the signal
becomes HOLD. ``confirm_series`` applies the same rule to a whole backtest, using for each candle
only the higher-timeframe candles that had closed by then.

Nothing here raises anything but ``StrategyError``: the cycle logs it and moves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from ta.trend import EMAIndicator

from market.intervals import interval_delta
from strategies.indicators import INDICATOR_COLUMNS, compute_indicators, full_config, min_candles
from strategies.rules import RULES, Condition, fmt


class Action(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"
    HOLD = "HOLD"


class StrategyError(Exception):
    """A strategy could not be evaluated (unknown type, bad config, malformed frame)."""


@dataclass(frozen=True)
class Signal:
    action: Action
    reasons: tuple[str, ...]
    candle_time: datetime  # open time of the last closed candle
    price: Decimal  # its close
    indicators: dict[str, float | None]  # that row's indicator values, JSON-safe


def signal_series(strategy_type: str, frame_with_indicators: pd.DataFrame, config: dict) -> np.ndarray:
    """+1 (LONG), -1 (SHORT) or 0 (HOLD) for every row of a frame that went through compute_indicators."""
    try:
        conditions = _conditions(strategy_type, frame_with_indicators, full_config(config))
        return _actions(conditions, len(frame_with_indicators))
    except StrategyError:
        raise
    except (KeyError, ValueError, TypeError, ValidationError) as error:
        raise StrategyError(f"{strategy_type}: {_describe(error)}") from error


def explain(strategy_type: str, frame_with_indicators: pd.DataFrame, config: dict) -> tuple[Action, list[str]]:
    """The last row's action and the reasons for it, from a frame that went through compute_indicators."""
    try:
        conditions = _conditions(strategy_type, frame_with_indicators, full_config(config))
        rows = len(frame_with_indicators)
        action = Action({1: "LONG", -1: "SHORT", 0: "HOLD"}[int(_actions(conditions, rows)[-1])])
        return action, _reasons(conditions, action, rows - 1)
    except StrategyError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, ValidationError) as error:
        raise StrategyError(f"{strategy_type}: {_describe(error)}") from error


def evaluate(strategy_type: str, frame: pd.DataFrame, config: dict, *,
             higher_frame: pd.DataFrame | None = None) -> Signal:
    """The action for the last (closed) candle of ``frame``, with the reasons for it."""
    try:
        return _evaluate(strategy_type, frame, full_config(config), higher_frame)
    except StrategyError:
        raise
    except Exception as error:  # noqa: BLE001 - the contract: a strategy raises nothing else
        raise StrategyError(f"{strategy_type}: {_describe(error)}") from error


def higher_trend(higher_frame: pd.DataFrame, config: dict) -> np.ndarray:
    """+1 where the higher timeframe's EMA short is above its EMA long, -1 below, 0 equal or unknown."""
    short, long_ = _trend_emas(higher_frame, full_config(config))
    return np.sign(np.nan_to_num(short - long_, nan=0.0)).astype(np.int8)


def confirm_series(signals: np.ndarray, frame: pd.DataFrame, interval: str, higher_frame: pd.DataFrame,
                   higher_interval: str, config: dict) -> np.ndarray:
    """``signals`` with every entry that the higher timeframe's trend (as known then) disagrees with set to 0."""
    try:
        trend = np.append(higher_trend(higher_frame, config), np.int8(0))  # index -1: no higher candle yet
        closes_at = (frame.index + interval_delta(interval)).asi8
        higher_closes_at = (higher_frame.index + interval_delta(higher_interval)).asi8
        # The newest higher candle that had closed when each candle closed.
        latest = np.searchsorted(higher_closes_at, closes_at, side="right") - 1
        return np.where(np.sign(signals) == trend[latest], signals, 0).astype(np.int8)
    except (KeyError, ValueError, TypeError, ValidationError) as error:
        raise StrategyError(f"confirmation: {_describe(error)}") from error


def _trend_emas(frame: pd.DataFrame, config: dict) -> tuple[np.ndarray, np.ndarray]:
    close = frame["close"].astype("float64")
    short = EMAIndicator(close, window=config["ema_short"]).ema_indicator().to_numpy(dtype="float64")
    long_ = EMAIndicator(close, window=config["ema_long"]).ema_indicator().to_numpy(dtype="float64")
    return short, long_


def _conditions(strategy_type: str, frame: pd.DataFrame, config: dict) -> list[Condition]:
    try:
        rules = RULES[strategy_type]
    except KeyError:
        raise StrategyError(f"unknown strategy type {strategy_type!r}; known: {', '.join(RULES)}") from None
    columns = {name: frame[name].to_numpy(dtype="float64") for name in (*INDICATOR_COLUMNS, "close")}
    return rules(columns, config)


def _actions(conditions: list[Condition], rows: int) -> np.ndarray:
    long_ = np.ones(rows, dtype=bool)
    short = np.ones(rows, dtype=bool)
    for condition in conditions:
        if condition.side == Action.LONG:
            long_ &= condition.mask
        else:
            short &= condition.mask
    return long_.astype(np.int8) - short.astype(np.int8)


def _evaluate(strategy_type: str, frame: pd.DataFrame, config: dict, higher_frame: pd.DataFrame | None) -> Signal:
    if strategy_type not in RULES:
        raise StrategyError(f"unknown strategy type {strategy_type!r}; known: {', '.join(RULES)}")
    if frame.empty:
        raise StrategyError("the candle frame is empty")
    with_indicators = compute_indicators(frame, config)
    last = with_indicators.iloc[-1]

    def signal(action: Action, reasons: list[str]) -> Signal:
        return Signal(action=action, reasons=tuple(reasons), candle_time=last.name.to_pydatetime(),
                      price=Decimal(repr(float(last["close"]))), indicators=_snapshot(last))

    needed = min_candles(config)
    if len(frame) < needed:
        return signal(Action.HOLD, [f"Not enough candles: these indicator periods need {needed} closed candles, "
                                    f"got {len(frame)}."])
    action, reasons = explain(strategy_type, with_indicators, config)
    if action != Action.HOLD and higher_frame is not None:
        confirmed, why = _confirm(action, higher_frame, config)
        reasons.append(why)
        if not confirmed:
            action = Action.HOLD
    return signal(action, reasons)


def _reasons(conditions: list[Condition], action: Action, row: int) -> list[str]:
    if action != Action.HOLD:
        return [f"{c.label} ({c.values(row)})" for c in conditions if c.side == action]
    reasons = []
    for side in (Action.LONG, Action.SHORT):
        for c in conditions:
            if c.side == side:
                state = "met" if c.mask[row] else "not met"
                reasons.append(f"{side} {state}: {c.label} ({c.values(row)})")
    return reasons


def _confirm(action: Action, higher_frame: pd.DataFrame, config: dict) -> tuple[bool, str]:
    if len(higher_frame) < config["ema_long"]:
        return False, (f"Higher timeframe cannot confirm: its EMA {config['ema_long']} needs "
                       f"{config['ema_long']} closed candles, got {len(higher_frame)}.")
    short, long_ = _trend_emas(higher_frame, config)
    trend = int(np.sign(short[-1] - long_[-1]))
    wanted = 1 if action == Action.LONG else -1
    direction = {1: "up", -1: "down", 0: "flat"}[trend]
    values = f"EMA {config['ema_short']} {fmt(short[-1])}, EMA {config['ema_long']} {fmt(long_[-1])}"
    if trend == wanted:
        return True, f"Higher timeframe trend is {direction} ({values}): {action} confirmed."
    return False, f"Higher timeframe trend is {direction} ({values}): {action} not confirmed, holding."


def _snapshot(row: pd.Series) -> dict[str, float | None]:
    return {name: (float(row[name]) if np.isfinite(row[name]) else None) for name in INDICATOR_COLUMNS}


def _describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, KeyError):
        return f"missing column {error}"
    return str(error) or type(error).__name__
