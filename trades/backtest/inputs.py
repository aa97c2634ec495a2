"""What a backtest replays: a strategy's settings, its signals over a whole history, and when each may act.

Signals come from ``strategies.signals`` (the rule masks the live cycle's ``evaluate`` reads) over
candles resampled from 1-minute data by ``market.candles.resample``, which keeps only complete
buckets labelled at their open time. A candle's signal is known once the candle has closed, so the
earliest it can be acted on is the first 1-minute candle that opens at or after that close: "signal
on closed candle t, fill at t+1's open". Until the next candle of the strategy's timeframe closes, the
live cycle keeps seeing the same signal every minute; ``SignalEvents.end`` marks where that stops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError

from market.candles import resample
from market.intervals import interval_delta
from strategies.indicators import compute_indicators, full_config, min_candles
from strategies.models import Strategy
from strategies.signals import confirm_series, signal_series
from trades.risk import RiskParams

SPEC_FIELDS = ("type", "indicators", "timeframe", "confirm_timeframe", "risk_percentage", "stop_loss_percentage",
               "take_profit_percentage", "leverage", "max_positions", "max_daily_loss_percentage",
               "use_ai_confirmation", "min_ai_confidence")
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
        return cls(type=strategy.type, indicators=strategy.indicator_config, timeframe=strategy.timeframe,
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

        risk = RiskParams(risk_percentage=decimal("risk_percentage"),
                          stop_loss_percentage=decimal("stop_loss_percentage"),
                          take_profit_percentage=decimal("take_profit_percentage"), leverage=decimal("leverage"))
        return cls(type=parameters["type"], indicators=full_config(parameters.get("indicators")),
                   timeframe=parameters["timeframe"], confirm_timeframe=parameters.get("confirm_timeframe") or "",
                   risk=risk, max_daily_loss_percentage=decimal("max_daily_loss_percentage"),
                   use_ai_confirmation=bool(parameters.get("use_ai_confirmation")),
                   min_ai_confidence=int(parameters.get("min_ai_confidence", 70)), name=parameters.get("name", ""),
                   strategy_id=parameters.get("strategy_id"))

    def with_indicators(self, **overrides) -> StrategySpec:
        """A copy with some indicator settings changed (checked like the Strategy's own)."""
        return replace(self, indicators=full_config({**self.indicators, **overrides}))

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
                "indicators": full_config(self.indicators), "timeframe": self.timeframe,
                "confirm_timeframe": self.confirm_timeframe, "risk_percentage": str(risk.risk_percentage),
                "stop_loss_percentage": str(risk.stop_loss_percentage),
                "take_profit_percentage": str(risk.take_profit_percentage), "leverage": str(risk.leverage),
                "max_daily_loss_percentage": (None if self.max_daily_loss_percentage is None
                                              else str(self.max_daily_loss_percentage)),
                "use_ai_confirmation": self.use_ai_confirmation, "min_ai_confidence": self.min_ai_confidence}


@dataclass(frozen=True)
class StrategySignals:
    frame: pd.DataFrame  # the strategy's timeframe candles (complete buckets only), with indicators
    actions: np.ndarray  # int8 per row: +1 LONG, -1 SHORT, 0 HOLD


def strategy_signals(spec: StrategySpec, minutes: pd.DataFrame) -> StrategySignals:
    """The strategy's action on every closed candle of its timeframe, exactly as ``evaluate`` would give it."""
    config = full_config(spec.indicators)
    frame = compute_indicators(resample(minutes, spec.timeframe), config)
    actions = signal_series(spec.type, frame, config)
    # The live cycle holds until it has min_candles closed candles; so does the backtest.
    actions[:max(0, min_candles(config) - 1)] = 0
    if spec.confirm_timeframe:
        higher = resample(minutes, spec.confirm_timeframe)
        actions = confirm_series(actions, frame, spec.timeframe, higher, spec.confirm_timeframe, config)
    return StrategySignals(frame=frame, actions=np.asarray(actions, dtype=np.int8))


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
