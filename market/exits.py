"""Exits beyond a fixed stop-loss and take-profit, as pure rules: a trailing stop, partial take-profits, a time exit.

No Django, no I/O, Decimal in and out. The backtest engine and the paper exchange both walk an open position
through ``candle_step``, one 1-minute candle at a time, so they agree by construction. Live, Bybit trails
natively (``trailingStop``: a distance in price; ``activePrice``: where trailing starts), and these rules
follow that model: the distance is fixed in price when the trade is protected (``trailing_for``: a share of
the entry price), and the stop trails the best price reached since, never moving back.

Inside one 1-minute candle, in this order (the path inside a minute is unknown, so the worse case is assumed,
as ``market.fills`` does for stop-loss and take-profit):

0. the open, first, as a price of its own: whatever it is already beyond fills there (a gap), and the trail
   follows it (the paper exchange also looks at the current price between candles: the same rule);
1. the stop as it then stands (fixed or trailed) and the full take-profit, if any, through
   ``market.fills.stop_or_take_profit``: both reached, the stop wins;
2. the partial take-profit targets the candle reached, nearest first, each at its own price;
3. only then the trail: activation once the candle reaches the activation price, and the stop moved up to the
   candle's best price less the distance. A stop moved by a candle's extreme is checked from the next candle
   on, never against the same candle's other extreme.

The time exit is a market close at the open of the first minute of the N-th candle (of the strategy's timeframe)
after the one the entry filled in; it comes before anything else in that minute.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from market import fills
from market.intervals import origin_minutes
from market.types import InstrumentRules

HUNDRED = Decimal("100")
ZERO = Decimal("0")
STOP_LOSS, TRAILING_STOP, TAKE_PROFIT = "stop_loss", "trailing_stop", "take_profit"
PARTIAL_TAKE_PROFIT, TIME_EXIT = "partial_take_profit", "time_exit"


@dataclass(frozen=True)
class Trailing:
    distance: Decimal  # how far behind the best price the stop trails, in price (Bybit's trailingStop)
    activation: Decimal | None = None  # the price that starts the trailing (Bybit's activePrice); None: trailing


@dataclass(frozen=True)
class Target:
    """A partial take-profit: a reduce-only market close of ``qty`` once the price reaches ``price``."""

    price: Decimal
    qty: Decimal


@dataclass(frozen=True)
class ExitPlan:
    """What protects an open position: its stop (moved by the trail), full take-profit and partial targets."""

    side: str  # the position's: Buy (long) or Sell (short)
    stop: Decimal | None = None
    take_profit: Decimal | None = None
    trailing: Trailing | None = None
    targets: tuple[Target, ...] = ()
    trailed: bool = False  # the trail has moved the stop: a stop fill is a trailing stop's


@dataclass(frozen=True)
class ExitFill:
    kind: str  # STOP_LOSS, TRAILING_STOP, TAKE_PROFIT, PARTIAL_TAKE_PROFIT or TIME_EXIT
    price: Decimal  # where the closing market order starts, before slippage
    qty: Decimal
    at_open: bool = False  # reached by the candle's open (settled before the cycle decides at that minute)


@dataclass(frozen=True)
class CandleOutcome:
    plan: ExitPlan
    fills: tuple[ExitFill, ...]
    remaining: Decimal  # the position's size after the fills

    @property
    def closed(self) -> bool:
        return self.remaining <= 0


def trailing_for(side: str, entry: Decimal, trail_percentage: Decimal | None, activation_percentage: Decimal | None,
                 rules: InstrumentRules) -> Trailing | None:
    """The trailing stop a strategy's settings give a position entered at ``entry`` (None without one)."""
    if not trail_percentage:
        return None
    distance = max(rules.tick_size, rules.round_price(entry * trail_percentage / HUNDRED))
    activation = None
    if activation_percentage:
        activation = rules.round_price(entry * (1 + fills.direction(side) * activation_percentage / HUNDRED))
    return Trailing(distance=distance, activation=activation)


def target_levels(side: str, entry: Decimal, size: Decimal, targets: tuple[tuple[Decimal, Decimal], ...],
                  rules: InstrumentRules) -> tuple[Target, ...]:
    """Partial take-profits ((percent, share of the position) pairs) as prices and quantities on the exchange's
    tick and lot step. Shares adding up to the whole position: the last target takes what is left, so rounding
    leaves nothing behind. A target whose quantity rounds below the minimum order is dropped (Bybit refuses it)."""
    levels, placed = [], ZERO
    whole = sum((share for _, share in targets), ZERO) >= 1
    for number, (percent, share) in enumerate(targets, start=1):
        price = rules.round_price(entry * (1 + fills.direction(side) * percent / HUNDRED))
        qty = size - placed if whole and number == len(targets) else rules.round_qty(size * share)
        if qty >= rules.min_qty and placed + qty <= size:
            levels.append(Target(price=price, qty=qty))
            placed += qty
    return tuple(levels)


def trail_stop(side: str, stop: Decimal | None, trailing: Trailing, high: Decimal,
               low: Decimal) -> tuple[Decimal | None, Trailing]:
    """The stop after the price traded between ``low`` and ``high``: activated once the activation price traded,
    then the best price less the distance, if that is better than the stop it had. Never moves back."""
    long = side == fills.BUY
    best = high if long else low
    if trailing.activation is not None:
        if (best < trailing.activation) if long else (best > trailing.activation):
            return stop, trailing
        trailing = replace(trailing, activation=None)
    trailed = best - trailing.distance if long else best + trailing.distance
    if stop is None or (trailed > stop if long else trailed < stop):
        return trailed, trailing
    return stop, trailing


def arm(plan: ExitPlan, price: Decimal) -> ExitPlan:
    """The plan once its trailing stop is set while the market trades at ``price`` (Bybit starts trailing from the
    last price, or waits for the activation price)."""
    return _trail(plan, price, price)


def _trail(plan: ExitPlan, high: Decimal, low: Decimal) -> ExitPlan:
    if plan.trailing is None:
        return plan
    stop, trailing = trail_stop(plan.side, plan.stop, plan.trailing, high, low)
    return replace(plan, stop=stop, trailing=trailing, trailed=plan.trailed or stop != plan.stop)


def candle_step(plan: ExitPlan, size: Decimal, open_: Decimal, high: Decimal, low: Decimal) -> CandleOutcome:
    """One 1-minute candle against a position of ``size``: the fills it triggers, in the module's order, and the
    plan it leaves (the trail moved, the targets it filled gone). The open comes first, as the price it is: what it
    reaches fills there (a gap), and the trail follows it, before the rest of the candle's range is looked at."""
    at_open = _reached(plan, size, open_, open_, open_, at_open=True)
    if at_open.closed:
        return at_open
    rest = _reached(_trail(at_open.plan, open_, open_), at_open.remaining, open_, high, low, at_open=False)
    after = rest.plan if rest.closed else _trail(rest.plan, high, low)
    return CandleOutcome(after, at_open.fills + rest.fills, rest.remaining)


def _reached(plan: ExitPlan, size: Decimal, open_: Decimal, high: Decimal, low: Decimal, *,
             at_open: bool) -> CandleOutcome:
    """The fills a price range triggers: the stop (or full take-profit) closes everything; else the targets."""
    long = plan.side == fills.BUY
    trigger = fills.stop_or_take_profit(plan.side, plan.stop, plan.take_profit, open_, high, low)
    if trigger is not None:
        kind = TRAILING_STOP if trigger.kind == STOP_LOSS and plan.trailed else trigger.kind
        return CandleOutcome(plan, (ExitFill(kind, trigger.price, size, at_open),), ZERO)
    made, left, remaining = [], [], size
    for target in plan.targets:
        reached = high >= target.price if long else low <= target.price
        if not reached or remaining <= 0:
            left.append(target)
            continue
        gapped = open_ >= target.price if long else open_ <= target.price
        qty = min(target.qty, remaining)
        made.append(ExitFill(PARTIAL_TAKE_PROFIT, open_ if gapped else target.price, qty, at_open))
        remaining -= qty
    return CandleOutcome(replace(plan, targets=tuple(left)), tuple(made), remaining)


def candle_index(minute: int, candle_minutes: int) -> int:
    """Which candle of a ``candle_minutes`` timeframe the minute (minutes since the epoch, UTC) falls in; Bybit's
    candles up to a day start on multiples of their length since the epoch, weeks on Mondays."""
    return (minute - origin_minutes(candle_minutes)) // candle_minutes


def time_exit_due(opened_index: int, now_index: int, candles: int | None) -> bool:
    """True once ``candles`` candles have passed since the one the trade was opened in."""
    return bool(candles) and now_index - opened_index >= candles


def time_exit_minute(opened_minute: int, candles: int, candle_minutes: int) -> int:
    """The first minute (since the epoch) at which the time exit is due."""
    return (candle_index(opened_minute, candle_minutes) + candles) * candle_minutes + origin_minutes(candle_minutes)
