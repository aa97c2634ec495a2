"""Risk and position sizing as pure functions: the live cycle and the backtester call these same ones.

Size comes from the money at risk: ``equity x risk%`` is what the trade loses if the stop-loss is
hit, so ``qty = risk amount / stop distance``. The result is capped by the margin available at the
strategy's leverage and by the largest order the operator allows, then rounded *down* to the
instrument's lot step; an order the exchange would refuse is refused here, with the reason. So is
an entry whose stop-loss lies beyond the liquidation price at the strategy's leverage.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from market import exits
from market.exits import ExitPlan
from market.intervals import INTERVAL_MINUTES
from market.types import InstrumentRules, Side
from strategies.config import stop_loss_problem, validate_take_profit_targets

HUNDRED = Decimal("100")
# Keep a little margin free for the entry fee and slippage, so a full-size order is not refused.
MARGIN_BUFFER = Decimal("0.97")


class RiskRejected(Exception):
    """The trade must not be placed; ``str(error)`` says why, for the decision log."""


@dataclass(frozen=True)
class RiskParams:
    risk_percentage: Decimal
    stop_loss_percentage: Decimal
    take_profit_percentage: Decimal
    leverage: Decimal = Decimal("1")
    max_positions: int = 1
    # Exits beyond the fixed stop and take-profit (``market.exits``); empty: the fixed ones alone, as before.
    trailing_stop_percentage: Decimal | None = None
    trailing_activation_percentage: Decimal | None = None
    exit_after_candles: int | None = None
    candle_minutes: int = 1  # the strategy's timeframe, which the time exit counts candles of
    take_profit_targets: tuple[tuple[Decimal, Decimal], ...] = ()  # (percent, share) pairs: replace the take-profit

    @classmethod
    def from_strategy(cls, strategy) -> RiskParams:
        return cls(risk_percentage=strategy.risk_percentage, stop_loss_percentage=strategy.stop_loss_percentage,
                   take_profit_percentage=strategy.take_profit_percentage, leverage=strategy.leverage,
                   max_positions=strategy.max_positions, **exit_settings(strategy))

    @property
    def has_extra_exits(self) -> bool:
        return bool(self.trailing_stop_percentage or self.exit_after_candles or self.take_profit_targets)


def exit_settings(source) -> dict:
    """The exit fields of a Strategy (or anything spelled like one), checked, as RiskParams takes them."""
    return {"trailing_stop_percentage": getattr(source, "trailing_stop_percentage", None),
            "trailing_activation_percentage": getattr(source, "trailing_activation_percentage", None),
            "exit_after_candles": getattr(source, "exit_after_candles", None),
            "candle_minutes": INTERVAL_MINUTES.get(getattr(source, "timeframe", "1"), 1),
            "take_profit_targets": target_pairs(getattr(source, "take_profit_targets", None))}


def target_pairs(targets) -> tuple[tuple[Decimal, Decimal], ...]:
    """Partial take-profit targets as stored (``[{"percent", "share"}]``), checked, as (percent, share) pairs."""
    return tuple((target["percent"], target["share"]) for target in validate_take_profit_targets(targets))


@dataclass(frozen=True)
class EntryPlan:
    side: Side
    qty: Decimal
    reference_price: Decimal
    stop_loss: Decimal
    take_profit: Decimal
    risk_amount: Decimal
    capped_by: str = ""  # what shrank the size below the risk's: "the margin available" or "MAX_ORDER_NOTIONAL"

    @property
    def notional(self) -> Decimal:
        return self.qty * self.reference_price


@dataclass(frozen=True)
class EntryBudget:
    """What one entry of a strategy uses at a given equity, whatever the price: the stop distance is a fixed
    share of the entry, so notional = equity x risk% / stop-loss%, and margin = notional / leverage."""

    equity: Decimal
    risk_amount: Decimal
    notional: Decimal
    margin: Decimal
    max_positions: int

    @property
    def margin_for_all(self) -> Decimal:
        return self.margin * self.max_positions

    @property
    def fits(self) -> bool:
        """Can ``max_positions`` entries be open at once without one being shrunk by the margin left?"""
        return self.margin_for_all <= self.equity * MARGIN_BUFFER


def entry_budget(equity: Decimal, params: RiskParams) -> EntryBudget:
    risk_amount = equity * params.risk_percentage / HUNDRED
    notional = risk_amount / (params.stop_loss_percentage / HUNDRED)
    return EntryBudget(equity=equity, risk_amount=risk_amount, notional=notional, margin=notional / params.leverage,
                       max_positions=params.max_positions)


def side_for(action: str) -> Side:
    return {"LONG": Side.BUY, "SHORT": Side.SELL}[action]


def protective_prices(side: Side, entry: Decimal, params: RiskParams, rules: InstrumentRules) -> tuple[Decimal,
                                                                                                        Decimal]:
    """Stop-loss and take-profit at the strategy's distances from ``entry``, on the price tick."""
    sl_fraction = params.stop_loss_percentage / HUNDRED
    tp_fraction = params.take_profit_percentage / HUNDRED
    if side is Side.BUY:
        stop, target = entry * (1 - sl_fraction), entry * (1 + tp_fraction)
    else:
        stop, target = entry * (1 + sl_fraction), entry * (1 - tp_fraction)
    stop, target = rules.round_price(stop), rules.round_price(target)
    if stop <= 0 or target <= 0:
        raise RiskRejected(f"stop-loss {stop} / take-profit {target} would not be positive prices")
    return stop, target


def exit_plan(side: Side, entry: Decimal, qty: Decimal, params: RiskParams, rules: InstrumentRules) -> ExitPlan:
    """Everything that closes a position entered at ``entry``: the stop-loss, then either the take-profit or the
    partial targets that replace it, and the trailing stop (not yet armed: ``market.exits.arm``)."""
    stop, target = protective_prices(side, entry, params, rules)
    targets = exits.target_levels(str(side), entry, qty, params.take_profit_targets, rules)
    return ExitPlan(side=str(side), stop=stop, take_profit=None if params.take_profit_targets else target,
                    trailing=exits.trailing_for(str(side), entry, params.trailing_stop_percentage,
                                                params.trailing_activation_percentage, rules),
                    targets=targets)


def position_size(*, equity: Decimal, available: Decimal, entry: Decimal, stop: Decimal, params: RiskParams,
                  rules: InstrumentRules, max_notional: Decimal) -> Decimal:
    if equity <= 0:
        raise RiskRejected("equity is not positive")
    distance = abs(entry - stop)
    if distance == 0:
        raise RiskRejected("the stop-loss is at the entry price")
    risk_amount = equity * params.risk_percentage / HUNDRED
    qty = risk_amount / distance
    affordable = max(Decimal("0"), available) * params.leverage * MARGIN_BUFFER
    cap = min(affordable, max_notional)
    if qty * entry > cap:
        qty = cap / entry
    rounded = rules.round_qty(qty)
    if rounded < rules.min_qty:
        limit = "the margin available" if affordable <= max_notional else "MAX_ORDER_NOTIONAL"
        raise RiskRejected(
            f"position size {qty:.8f} {rules.symbol} is below the minimum order {rules.min_qty} "
            f"(risk {params.risk_percentage}% of {equity:.2f} USDT, capped by {limit})")
    if rules.min_notional and rounded * entry < rules.min_notional:
        raise RiskRejected(f"order value {rounded * entry:.2f} USDT is below the exchange minimum {rules.min_notional}")
    return rounded


def plan_entry(*, action: str, price: Decimal, equity: Decimal, available: Decimal, params: RiskParams,
               rules: InstrumentRules, max_notional: Decimal) -> EntryPlan:
    problem = stop_loss_problem(params.stop_loss_percentage, params.leverage)
    if problem:  # a strategy saved before the rule existed; the exchange would liquidate before the stop
        raise RiskRejected(problem)
    side = side_for(action)
    stop, target = protective_prices(side, price, params, rules)
    qty = position_size(equity=equity, available=available, entry=price, stop=stop, params=params, rules=rules,
                        max_notional=max_notional)
    wanted = rules.round_qty(equity * params.risk_percentage / HUNDRED / abs(price - stop))
    capped_by = ""
    if qty < wanted:  # the size the risk asked for did not fit: say what shrank it, for the decision log
        affordable = max(Decimal("0"), available) * params.leverage * MARGIN_BUFFER
        capped_by = "the margin available" if affordable <= max_notional else "MAX_ORDER_NOTIONAL"
    return EntryPlan(side=side, qty=qty, reference_price=price, stop_loss=stop, take_profit=target,
                     risk_amount=qty * abs(price - stop), capped_by=capped_by)


def daily_loss_breached(realized_today: Decimal, equity: Decimal, limit_percentage: Decimal | None) -> bool:
    """True once today's realized loss reaches ``limit_percentage`` of equity (no limit when None)."""
    if limit_percentage is None or realized_today >= 0:
        return False
    return -realized_today >= equity * limit_percentage / HUNDRED
