"""The ``indicators`` JSON of a strategy: documented defaults and strict validation; and the rule that
ties a strategy's stop-loss to its leverage.

One definition serves the model, the admin form, the API serializer, the backtester and the risk
checks before an order, so a config that one of them accepts, all of them accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.core.exceptions import ValidationError

from market.fills import DEFAULT_MAINTENANCE_MARGIN_RATE, liquidation_distance


@dataclass(frozen=True)
class Param:
    default: float | int
    help: str
    minimum: float = 0
    integer: bool = True
    maximum: float | None = None
    exclusive_minimum: bool = True


INDICATOR_PARAMS: dict[str, Param] = {
    "rsi_period": Param(14, "RSI look-back in candles (Wilder's smoothing)."),
    "rsi_oversold": Param(30, "RSI at or below this is oversold (long setups).", maximum=100, integer=False),
    "rsi_overbought": Param(70, "RSI at or above this is overbought (short setups).", maximum=100, integer=False),
    "ema_short": Param(9, "Fast EMA period."),
    "ema_long": Param(21, "Slow EMA period; must be longer than ema_short."),
    "macd_fast": Param(12, "MACD fast EMA period."),
    "macd_slow": Param(26, "MACD slow EMA period; must be longer than macd_fast."),
    "macd_signal": Param(9, "MACD signal-line EMA period."),
    "bb_period": Param(20, "Bollinger Bands moving-average period."),
    "bb_std": Param(2, "Bollinger Bands width in standard deviations.", integer=False, maximum=10),
    "stoch_k": Param(14, "Stochastic %K look-back."),
    "stoch_d": Param(3, "Stochastic %D smoothing."),
    "stoch_smooth": Param(3, "Stochastic %K smoothing."),
    "atr_period": Param(14, "Average True Range period."),
}
MAX_PERIOD = 500


def indicator_defaults() -> dict:
    return {name: param.default for name, param in INDICATOR_PARAMS.items()}


def validate_indicators(value) -> dict:
    """Return the full config (defaults filled in) or raise ValidationError listing every problem."""
    if value in (None, ""):
        return indicator_defaults()
    if not isinstance(value, dict):
        raise ValidationError("Indicators must be a JSON object such as {\"rsi_period\": 14}.")
    errors = []
    unknown = sorted(set(value) - set(INDICATOR_PARAMS))
    if unknown:
        errors.append(f"Unknown indicator setting {', '.join(map(repr, unknown))}; "
                      f"known settings: {', '.join(INDICATOR_PARAMS)}.")
    config = indicator_defaults()
    for name, raw in value.items():
        if name not in INDICATOR_PARAMS:
            continue
        param = INDICATOR_PARAMS[name]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            errors.append(f"{name} must be a number, got {raw!r}.")
            continue
        if param.integer and int(raw) != raw:
            errors.append(f"{name} must be a whole number of candles, got {raw}.")
            continue
        if raw <= param.minimum if param.exclusive_minimum else raw < param.minimum:
            errors.append(f"{name} must be greater than {param.minimum:g}, got {raw}.")
            continue
        upper = param.maximum if param.maximum is not None else MAX_PERIOD
        if raw > upper:
            errors.append(f"{name} must be at most {upper:g}, got {raw}.")
            continue
        config[name] = int(raw) if param.integer else float(raw)
    if not errors:
        if config["ema_short"] >= config["ema_long"]:
            errors.append(f"ema_short ({config['ema_short']}) must be shorter than ema_long ({config['ema_long']}).")
        if config["macd_fast"] >= config["macd_slow"]:
            errors.append(f"macd_fast ({config['macd_fast']}) must be shorter than macd_slow "
                          f"({config['macd_slow']}).")
        if config["rsi_oversold"] >= config["rsi_overbought"]:
            errors.append(f"rsi_oversold ({config['rsi_oversold']}) must be below rsi_overbought "
                          f"({config['rsi_overbought']}).")
    if errors:
        raise ValidationError(errors)
    return config


def stop_loss_problem(stop_loss_percentage, leverage) -> str | None:
    """Why a stop-loss this far from entry cannot protect a position at this leverage, or None if it can.

    At ``leverage`` an isolated position is liquidated when the price has moved about
    ``1/leverage - maintenance margin rate`` against it (``market.fills.liquidation_distance``); a stop
    at or beyond that point would never fire, and the whole margin would be lost instead.
    """
    if not (isinstance(stop_loss_percentage, Decimal) and isinstance(leverage, Decimal)
            and 0 < stop_loss_percentage < 100 and 1 <= leverage <= 100):
        return None  # out of range: each field's own validation reports that
    reach = liquidation_distance(leverage) * 100
    if stop_loss_percentage < reach:
        return None
    highest = 1 / (stop_loss_percentage / 100 + DEFAULT_MAINTENANCE_MARGIN_RATE)
    # Rounded down, so that the values suggested are safe ones.
    remedy = f"a stop-loss below {_floor(reach)}%" + (f" or a leverage below {_floor(highest)}x" if highest > 1 else "")
    return (f"At {leverage.normalize():f}x leverage a position is liquidated about {_floor(reach)}% from its entry, "
            f"before a {stop_loss_percentage.normalize():f}% stop-loss could close it. Use {remedy}.")


def _floor(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


MAX_TARGETS = 3


def validate_take_profit_targets(value) -> list[dict]:
    """Partial take-profit targets, checked: a list of up to three ``{"percent": p, "share": s}`` with 0 < p,
    0 < s <= 1, rising percents, shares adding up to at most 1. Returns them as Decimals; raises ValidationError."""
    if value in (None, ""):
        return []
    if not isinstance(value, list) or len(value) > MAX_TARGETS:
        raise ValidationError(f'Take-profit targets are a list of at most {MAX_TARGETS} objects such as '
                              f'[{{"percent": 1.5, "share": 0.5}}].')
    targets, problems = [], []
    for number, target in enumerate(value, start=1):
        if not isinstance(target, dict) or set(target) != {"percent", "share"}:
            problems.append(f'target {number} must be {{"percent": ..., "share": ...}}, got {target!r}.')
            continue
        try:
            percent, share = (Decimal(str(target[key])) for key in ("percent", "share"))
        except (ArithmeticError, ValueError):
            problems.append(f"target {number}: percent and share must be numbers, got {target!r}.")
            continue
        if not (percent.is_finite() and 0 < percent <= 1000):
            problems.append(f"target {number}: percent must be more than 0 and at most 1000, got {percent}.")
        if not (share.is_finite() and 0 < share <= 1):
            problems.append(f"target {number}: share must be more than 0 and at most 1, got {share}.")
        targets.append({"percent": percent, "share": share})
    if not problems:
        if any(later["percent"] <= earlier["percent"] for earlier, later in zip(targets, targets[1:], strict=False)):
            problems.append("take-profit targets must be in rising order of percent.")
        if sum(target["share"] for target in targets) > 1:
            problems.append("the targets' shares add up to more than 1 (the whole position).")
    if problems:
        raise ValidationError(problems)
    return targets
