"""What a backtest replays: a strategy's settings, its signals over a whole history, and when each may act.

Signals come from ``strategies.signals`` (the strategy class's hooks through the SDK kernel, as the live
cycle's ``evaluate`` runs them) over candles resampled from 1-minute data by ``market.candles.resample``,
which keeps only complete buckets labelled at their open time; so are the class's informative timeframes.
A candle's signal is known once the candle has closed, so the earliest it can be acted on is the first
1-minute candle that opens at or after that close: "signal on closed candle t, fill at t+1's open". Until
the next candle of the strategy's timeframe closes, the live cycle keeps seeing the same signal every minute;
``SignalEvents.end`` marks where that stops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError

from market.candles import resample
from market.intervals import interval_delta
from strategies.catalogue import known_types, strategy_class
from strategies.models import Strategy
from strategies.sdk.base import IStrategy, bybit_interval
from strategies.sdk.parameters import ParameterError
from strategies.sdk.trade_exits import has_callbacks
from strategies.signals import StrategyError, confirm_series, populated
from trades.risk import RiskParams, exit_settings

SPEC_FIELDS = ("type", "indicators", "timeframe", "confirm_timeframe", "risk_percentage", "stop_loss_percentage",
               "take_profit_percentage", "leverage", "max_positions", "max_daily_loss_percentage",
               "use_ai_confirmation", "min_ai_confidence", "trailing_stop_percentage",
               "trailing_activation_percentage", "exit_after_candles", "take_profit_targets")
RISK_FIELDS = ("risk_percentage", "stop_loss_percentage", "take_profit_percentage", "leverage")


def _checked_strategy(name: str, **fields):
    """An unsaved Strategy with these fields, through the model's own validation (raises ValidationError)."""
    strategy = Strategy(name=name or "backtest", symbols=["BTCUSDT"], **fields)
    strategy.full_clean(validate_unique=False, validate_constraints=False)
    return strategy


def read_config(path: str | Path):
    """A strategy config file's JSON (the Strategy API's fields)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValidationError(f"Cannot read the strategy config {path}: {error}") from None


@dataclass(frozen=True)
class StrategySpec:
    """A strategy's trading settings, detached from the database (a saved Strategy, a JSON file, a grid cell)."""

    type: str
    indicators: dict
    timeframe: str = "5"
    confirm_timeframe: str = ""
    risk: RiskParams = field(default_factory=lambda: RiskParams(Decimal("1"), Decimal("1"), Decimal("2")))
    max_daily_loss_percentage: Decimal | None = None
    use_ai_confirmation: bool = False
    min_ai_confidence: int = 70
    name: str = ""
    strategy_id: int | None = None

    @classmethod
    def from_strategy(cls, strategy) -> StrategySpec:
        return cls(type=strategy.type, indicators=strategy.parameters, timeframe=strategy.timeframe,
                   confirm_timeframe=strategy.confirm_timeframe or "", risk=RiskParams.from_strategy(strategy),
                   max_daily_loss_percentage=strategy.max_daily_loss_percentage,
                   use_ai_confirmation=strategy.use_ai_confirmation, min_ai_confidence=strategy.min_ai_confidence,
                   name=strategy.name, strategy_id=strategy.pk)

    @classmethod
    def from_config(cls, config: dict, *, name: str = "") -> StrategySpec:
        """Settings spelled like the Strategy API's fields, checked by the Strategy model's own validation."""
        if not isinstance(config, dict):
            raise ValidationError("A strategy config must be a JSON object with the Strategy API's fields.")
        unknown = sorted(set(config) - set(SPEC_FIELDS) - {"name", "symbols", "id", "is_active"})
        if unknown:
            raise ValidationError(f"Unknown strategy field(s) {', '.join(unknown)}; known: {', '.join(SPEC_FIELDS)}.")
        fields = {key: value for key, value in config.items() if key in SPEC_FIELDS}
        strategy = _checked_strategy(config.get("name") or name, **fields)
        return replace(cls.from_strategy(strategy), strategy_id=None)

    @classmethod
    def from_file(cls, path: str | Path) -> StrategySpec:
        return cls.from_config(read_config(path), name=Path(path).stem)

    @classmethod
    def from_parameters(cls, parameters: dict) -> StrategySpec:
        """The inverse of ``as_parameters``: a stored run's strategy, as it was when the run was made."""
        def decimal(key):
            value = parameters.get(key)
            return None if value is None else Decimal(value)

        # Read like a Strategy's fields (older runs stored none of these: no extra exits).
        exits = exit_settings(SimpleNamespace(**{
            **parameters, "trailing_stop_percentage": decimal("trailing_stop_percentage"),
            "trailing_activation_percentage": decimal("trailing_activation_percentage")}))
        risk = RiskParams(risk_percentage=decimal("risk_percentage"),
                          stop_loss_percentage=decimal("stop_loss_percentage"),
                          take_profit_percentage=decimal("take_profit_percentage"), leverage=decimal("leverage"),
                          max_positions=int(parameters.get("max_positions") or 1), **exits)
        return cls(type=parameters["type"], indicators=_stored_parameters(parameters["type"],
                                                                          parameters.get("indicators")),
                   timeframe=parameters["timeframe"], confirm_timeframe=parameters.get("confirm_timeframe") or "",
                   risk=risk, max_daily_loss_percentage=decimal("max_daily_loss_percentage"),
                   use_ai_confirmation=bool(parameters.get("use_ai_confirmation")),
                   min_ai_confidence=int(parameters.get("min_ai_confidence", 70)), name=parameters.get("name", ""),
                   strategy_id=parameters.get("strategy_id"))

    def with_indicators(self, **overrides) -> StrategySpec:
        """A copy with some parameters changed, checked by the strategy's class like the Strategy's own."""
        return replace(self, indicators=class_parameters(self.type, {**self.indicators, **overrides}))

    def with_risk(self, **overrides) -> StrategySpec:
        """A copy with some risk settings changed, checked like the Strategy's own: each value's range, and a
        stop-loss that the leverage would not have liquidated first."""
        risk = replace(self.risk, **overrides)
        try:
            _checked_strategy(self.name, type=self.type, **{name: getattr(risk, name) for name in RISK_FIELDS})
        except ValidationError as error:
            raise ValidationError([f"{name}: {message}" for name, messages in error.message_dict.items()
                                   for message in messages]) from None
        return replace(self, risk=risk)

    def as_parameters(self) -> dict:
        risk = self.risk
        return {"name": self.name, "strategy_id": self.strategy_id, "type": self.type,
                "indicators": dict(self.indicators), "timeframe": self.timeframe,
                "confirm_timeframe": self.confirm_timeframe, "risk_percentage": str(risk.risk_percentage),
                "stop_loss_percentage": str(risk.stop_loss_percentage),
                "take_profit_percentage": str(risk.take_profit_percentage), "leverage": str(risk.leverage),
                "max_positions": risk.max_positions,
                "max_daily_loss_percentage": (None if self.max_daily_loss_percentage is None
                                              else str(self.max_daily_loss_percentage)),
                "use_ai_confirmation": self.use_ai_confirmation, "min_ai_confidence": self.min_ai_confidence,
                **_exit_parameters(risk)}


def _exit_parameters(risk: RiskParams) -> dict:
    def text(value):
        return None if value is None else str(value)

    return {"trailing_stop_percentage": text(risk.trailing_stop_percentage),
            "trailing_activation_percentage": text(risk.trailing_activation_percentage),
            "exit_after_candles": risk.exit_after_candles,
            "take_profit_targets": [{"percent": str(percent), "share": str(share)}
                                    for percent, share in risk.take_profit_targets]}


def class_parameters(strategy_type: str, values: dict | None) -> dict:
    """``values`` checked by the class ``strategy_type`` (its declared ranges and rules), defaults filled in; a
    ValidationError names the parameter and its range."""
    cls = strategy_class(strategy_type)
    if cls is None:
        raise ValidationError(f'"{strategy_type}" is not a strategy type; use one of {", ".join(known_types())}.')
    try:
        return cls.clean_parameters(values)
    except ParameterError as error:
        raise ValidationError(str(error)) from None


def _stored_parameters(strategy_type: str, values: dict | None) -> dict:
    """A stored run's parameters, defaults filled in for runs stored before a parameter existed; as stored when
    the class is gone or has changed its mind about them (the run is history, not a new strategy)."""
    try:
        return class_parameters(strategy_type, values)
    except ValidationError:
        return dict(values or {})


@dataclass(frozen=True)
class StrategySignals:
    frame: pd.DataFrame  # the strategy's timeframe candles (complete buckets only), with the class's columns
    actions: np.ndarray  # int8 per row: +1 LONG, -1 SHORT, 0 HOLD
    exit_long: np.ndarray | None = None  # bool per row: the class's populate_exit_trend
    exit_short: np.ndarray | None = None
    # The instance that ran, asked about open trades when its class has custom_exit / custom_stoploss.
    strategy: IStrategy | None = field(default=None, compare=False, repr=False)

    def exit_tags(self) -> np.ndarray:
        """Per row: its ``exit_tag`` ("" where none)."""
        if "exit_tag" not in self.frame.columns:
            return np.full(len(self.frame), "", dtype=object)
        tags = self.frame["exit_tag"].to_numpy(dtype=object)
        return np.array([tag if isinstance(tag, str) else "" for tag in tags], dtype=object)


def strategy_signals(spec: StrategySpec, minutes: pd.DataFrame, *, symbol: str = "") -> StrategySignals:
    """The strategy's action on every closed candle of its timeframe, exactly as ``evaluate`` would give it:
    the kernel holds the rows before the class's ``startup_candle_count``, as the live cycle does."""
    cls = strategy_class(spec.type)
    informative = {timeframe: resample(minutes, bybit_interval(timeframe))
                   for timeframe in (cls.informative_timeframes if cls else ())}
    metadata = {"pair": symbol, "timeframe": spec.timeframe, "informative": informative}
    frame = resample(minutes, spec.timeframe)
    try:
        result = populated(spec.type, frame, spec.indicators, metadata)
        actions = result.entries
        if spec.confirm_timeframe:
            higher = resample(minutes, spec.confirm_timeframe)
            actions = confirm_series(actions, frame, spec.timeframe, higher, spec.confirm_timeframe, spec.indicators)
    except StrategyError as error:  # a backtest of a broken strategy is a bad input, named, not a crash
        raise ValidationError(str(error)) from None
    return StrategySignals(frame=result.frame, actions=np.asarray(actions, dtype=np.int8),
                           exit_long=result.exit_long, exit_short=result.exit_short, strategy=result.strategy)


@dataclass(frozen=True)
class SignalEvents:
    """The LONG/SHORT signals, in time order, and the 1-minute candles on which each may be acted on."""

    candle_time: np.ndarray  # int64 ns: open time of the signal candle
    action: np.ndarray  # int8: +1 LONG, -1 SHORT
    price: np.ndarray  # float64: the signal candle's close (the live cycle's reference price for sizing)
    first: np.ndarray  # int64: index of the first 1-minute candle opening at or after the signal candle's close
    end: np.ndarray  # int64: index where the next candle of the timeframe has closed (the signal is stale)

    def __len__(self) -> int:
        return len(self.action)


def signal_events(frame: pd.DataFrame, actions: np.ndarray, interval: str, minute_starts: np.ndarray,
                  trade_from: int = 0) -> SignalEvents:
    """Events for the non-HOLD rows of ``actions``; ``minute_starts`` are the 1-minute open times (int64 ns).

    Signals whose window closes before ``trade_from`` (the warm-up) are dropped; windows are clipped to it.
    """
    step = pd.Timedelta(interval_delta(interval)).value
    starts = frame.index.as_unit("ns").asi8
    closes = starts + step
    rows = np.flatnonzero(actions)
    first = np.searchsorted(minute_starts, closes[rows], side="left")
    next_close = np.append(closes[1:], np.iinfo(np.int64).max)[rows]
    end = np.searchsorted(minute_starts, next_close, side="left")
    first = np.maximum(first, trade_from)
    keep = first < end
    rows, first, end = rows[keep], first[keep], end[keep]
    return SignalEvents(candle_time=starts[rows], action=np.asarray(actions, dtype=np.int8)[rows],
                        price=frame["close"].to_numpy(dtype="float64")[rows], first=first.astype(np.int64),
                        end=end.astype(np.int64))


@dataclass(frozen=True)
class CandleCloses:
    """The strategy's candles as the engine asks its exit questions (``strategies.sdk.trade_exits``): per row of
    its timeframe, the 1-minute candle at whose open the live cycle acts on that row, and the row's exit flags."""

    minute: np.ndarray  # int64 per row: the first 1-minute candle opening at or after the row's close (or past the end)
    close_time: np.ndarray  # int64 ns per row: the row's close time
    close: np.ndarray  # float64 per row: its close price, the rate the hooks are told
    exit_long: np.ndarray  # bool per row
    exit_short: np.ndarray  # bool per row
    tags: np.ndarray  # str per row: its exit_tag, "" where none
    strategy: IStrategy | None  # asked custom_exit / custom_stoploss; None when its class has neither
    pair: str = ""


def candle_closes(signals: StrategySignals, interval: str, minute_starts: np.ndarray,
                  pair: str = "") -> CandleCloses | None:
    """What the engine needs to act on exit signals and the custom exit hooks; None when the strategy has neither
    (the engine then only looks for stops, as before)."""
    frame = signals.frame
    empty = np.zeros(len(frame), dtype=bool)
    exit_long = empty if signals.exit_long is None else np.asarray(signals.exit_long, dtype=bool)
    exit_short = empty if signals.exit_short is None else np.asarray(signals.exit_short, dtype=bool)
    strategy = signals.strategy if signals.strategy is not None and has_callbacks(type(signals.strategy)) else None
    if strategy is None and not (exit_long.any() or exit_short.any()):
        return None
    closes = frame.index.as_unit("ns").asi8 + pd.Timedelta(interval_delta(interval)).value
    minute = np.searchsorted(minute_starts, closes, side="left").astype(np.int64)
    return CandleCloses(minute=minute, close_time=closes, close=frame["close"].to_numpy(dtype="float64"),
                        exit_long=exit_long, exit_short=exit_short, tags=signals.exit_tags(), strategy=strategy,
                        pair=pair)
