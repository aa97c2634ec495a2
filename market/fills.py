"""The fill model, as pure functions: the paper exchange and the backtester share it.

No Django, no I/O: Decimal in, Decimal out, so a backtest fills exactly like paper trading does.

The model, in short:
- A market order fills at the current price moved against the taker by the slippage (up for a buy,
  down for a sell), rounded to the tick in the taker's disfavour, and pays the taker fee.
- A resting limit order fills at its own price once a 1-minute candle trades through it; a limit
  order that is already marketable fills at once, like a taker, at the better of its limit and the
  slipped market price.
- Stop-loss and take-profit are checked against each 1-minute candle's high and low. When one candle
  reaches both, **the stop wins**: a candle's path inside the minute is unknown, so the model
  assumes the worse outcome. A candle that opens beyond the trigger (a gap) fills at its open.
- Fees are charged once, when a fill happens; a close reports PnL net of its share of the opening
  fees and of its own fee, as Bybit's closed-PnL does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

BUY, SELL = "Buy", "Sell"
ZERO = Decimal("0")
MONEY_PLACES = Decimal("0.00000001")  # DecimalField(20, 8)
BPS = Decimal("10000")
DEFAULT_MAINTENANCE_MARGIN_RATE = Decimal("0.005")


def money(value: Decimal) -> Decimal:
    """Round to the 8 decimal places the database keeps, so memory and database always agree."""
    return value.quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


def direction(side: str) -> int:
    if side == BUY:
        return 1
    if side == SELL:
        return -1
    raise ValueError(f"side must be Buy or Sell, got {side!r}")


def opposite(side: str) -> str:
    return SELL if side == BUY else BUY


def to_tick(price: Decimal, tick_size: Decimal | None, *, up: bool) -> Decimal:
    if not tick_size:
        return price
    steps = (price / tick_size).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return steps * tick_size


def slipped_price(side: str, price: Decimal, slippage_bps: Decimal, tick_size: Decimal | None = None) -> Decimal:
    """What a market order pays: the price moved against the taker, rounded to the tick against the taker."""
    moved = price * (1 + direction(side) * Decimal(slippage_bps) / BPS)
    return to_tick(moved, tick_size, up=side == BUY)


def fee(qty: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    return money(qty * price * rate)


def unrealized_pnl(side: str, size: Decimal, entry_price: Decimal, mark_price: Decimal) -> Decimal:
    if not size:
        return ZERO
    return money((mark_price - entry_price) * size * direction(side))


def initial_margin(size: Decimal, price: Decimal, leverage: Decimal) -> Decimal:
    return money(size * price / leverage)


def liquidation_distance(leverage: Decimal, maintenance_rate: Decimal = DEFAULT_MAINTENANCE_MARGIN_RATE) -> Decimal:
    """Isolated-margin estimate: how far the price may move against a position, as a fraction of its entry
    price, before the margin left falls to the maintenance margin (initial margin rate - maintenance rate)."""
    return 1 / leverage - maintenance_rate


def liquidation_price(side: str, entry_price: Decimal, leverage: Decimal,
                      maintenance_rate: Decimal = DEFAULT_MAINTENANCE_MARGIN_RATE) -> Decimal:
    """Isolated-margin estimate, for display: where the margin left falls to the maintenance margin."""
    return money(entry_price * (1 - direction(side) * liquidation_distance(leverage, maintenance_rate)))


def marketable_limit_price(side: str, limit_price: Decimal, market_price: Decimal, slippage_bps: Decimal,
                           tick_size: Decimal | None = None) -> Decimal | None:
    """The fill price of a limit order that crosses the market right away, or None if it rests."""
    if (side == BUY and market_price > limit_price) or (side == SELL and market_price < limit_price):
        return None
    slipped = slipped_price(side, market_price, slippage_bps, tick_size)
    return min(slipped, limit_price) if side == BUY else max(slipped, limit_price)


def limit_touched(side: str, limit_price: Decimal, low: Decimal, high: Decimal) -> bool:
    """A resting limit order fills once a candle trades at or through its price."""
    return low <= limit_price if side == BUY else high >= limit_price


@dataclass(frozen=True)
class Trigger:
    kind: str  # "stop_loss" or "take_profit"
    trigger_price: Decimal
    price: Decimal  # where the closing market order starts, before slippage


def stop_or_take_profit(position_side: str, stop_loss: Decimal | None, take_profit: Decimal | None,
                        open_: Decimal, high: Decimal, low: Decimal) -> Trigger | None:
    """Which of a position's stop-loss / take-profit one candle triggers. Both inside one candle: the stop wins."""
    long = position_side == BUY
    if stop_loss:
        hit = low <= stop_loss if long else high >= stop_loss
        if hit:
            gapped = open_ < stop_loss if long else open_ > stop_loss
            return Trigger("stop_loss", stop_loss, open_ if gapped else stop_loss)
    if take_profit:
        hit = high >= take_profit if long else low <= take_profit
        if hit:
            gapped = open_ > take_profit if long else open_ < take_profit
            return Trigger("take_profit", take_profit, open_ if gapped else take_profit)
    return None


@dataclass(frozen=True)
class PositionState:
    """A one-way position: ``side`` is None when flat; ``open_fee`` is the opening fee not yet attributed to a close."""

    side: str | None = None
    size: Decimal = ZERO
    entry_price: Decimal = ZERO
    open_fee: Decimal = ZERO

    @property
    def is_open(self) -> bool:
        return self.size > 0


@dataclass(frozen=True)
class FillOutcome:
    position: PositionState
    fee: Decimal = ZERO  # this fill's fee, charged once, here
    closed_qty: Decimal = ZERO  # how much of the previous position this fill closed
    realized_gross: Decimal = ZERO  # price PnL of the closed part, before any fee
    closed_pnl: Decimal = ZERO  # realized_gross minus the closed part's opening and closing fees
    closed_entry_price: Decimal = ZERO

    @property
    def cash_change(self) -> Decimal:
        """What the fill does to the wallet: the closed part's price PnL in, this fill's fee out."""
        return self.realized_gross - self.fee


def apply_fill(position: PositionState, side: str, qty: Decimal, price: Decimal, fill_fee: Decimal) -> FillOutcome:
    """The position after a fill of ``qty`` at ``price`` on ``side``: opens, adds, reduces, closes or flips."""
    if qty <= 0:
        raise ValueError("a fill has a positive quantity")
    if not position.is_open or position.side == side:
        size = position.size + qty
        entry = money((position.size * position.entry_price + qty * price) / size)
        return FillOutcome(PositionState(side, size, entry, position.open_fee + fill_fee), fee=fill_fee)

    closed = min(qty, position.size)
    gross = money((price - position.entry_price) * closed * direction(position.side))
    open_fee_share = money(position.open_fee * closed / position.size)
    close_fee_share = money(fill_fee * closed / qty)
    remaining = position.size - closed
    if remaining > 0:
        after = PositionState(position.side, remaining, position.entry_price, position.open_fee - open_fee_share)
    elif qty > closed:  # flipped: the rest of the fill opens the other way
        after = PositionState(side, qty - closed, price, fill_fee - close_fee_share)
    else:
        after = PositionState()
    return FillOutcome(after, fee=fill_fee, closed_qty=closed, realized_gross=gross,
                       closed_pnl=gross - open_fee_share - close_fee_share, closed_entry_price=position.entry_price)
