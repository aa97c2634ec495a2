"""Making the database agree with the exchange, at start-up and before every cycle.

- A ``pending`` trade is looked up by its orderLinkId: filled -> open (and protected), ended
  without a fill -> failed, not on the exchange after a grace period -> failed. Never re-sent.
- An ``open`` trade whose position is gone was closed by its stop-loss, take-profit or by hand:
  it is closed with the exchange's exit price and realized PnL (fees included).
- An ``open`` trade of a strategy whose position has no stop-loss (the cycle could neither set it nor
  close the position, the exchange failing throughout) gets it set again, or its position closed.
- An ``open`` trade whose stop the exchange moved (a trailing stop) takes the exchange's stop; one whose position
  partial take-profits shrank is not a mismatch.
- A position the database does not know is reported, never adopted silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from exchange.base import Exchange
from market.errors import ExchangeError
from market.types import Side
from trades.execution import close_unprotected, fail_entry, protect, record_exit, settle_entry, stop_now
from trades.models import Trade, TradeStatus
from trades.risk import RiskParams, RiskRejected, exit_plan

logger = logging.getLogger(__name__)

# How long an order may stay invisible on the exchange before we conclude it never arrived. Bybit
# shows an accepted order within milliseconds; a minute covers a slow network with room to spare.
UNSEEN_ORDER_GRACE = timedelta(minutes=1)
# A position filled this long ago without a stop-loss is not one whose cycle is still setting it.
UNPROTECTED_GRACE = timedelta(seconds=30)


@dataclass
class ReconcileReport:
    opened: list[Trade] = field(default_factory=list)
    failed: list[Trade] = field(default_factory=list)
    closed: list[Trade] = field(default_factory=list)
    protected: list[Trade] = field(default_factory=list)
    unknown_positions: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.opened or self.failed or self.closed or self.protected)

    @property
    def findings(self) -> list[str]:
        return self.unknown_positions + self.mismatches

    def lines(self) -> list[str]:
        lines = [f"opened: trade {t.pk} {t.symbol} (order {t.order_link_id} had filled)" for t in self.opened]
        lines += [f"failed: trade {t.pk} {t.symbol}: {t.status_reason}" for t in self.failed]
        lines += [f"closed: trade {t.pk} {t.symbol} at {t.exit_price}, PnL {t.realized_pnl}" for t in self.closed]
        lines += [f"protected: trade {t.pk} {t.symbol} had no stop-loss; set at {t.stop_loss}" for t in self.protected]
        return lines + self.findings + [f"error: {error}" for error in self.errors]


def reconcile(exchange: Exchange, *, now: datetime | None = None,
              sleep: Callable[[float], None] | None = None) -> ReconcileReport:
    now = now or timezone.now()
    report = ReconcileReport()
    try:
        positions = {position.symbol: position for position in exchange.get_positions() if position.size > 0}
    except ExchangeError as error:
        report.errors.append(f"positions unavailable: {error}")
        return report
    for trade in Trade.objects.pending().select_related("strategy"):
        _settle_pending(trade, exchange, now, report, sleep)
    for trade in Trade.objects.open().select_related("strategy"):
        position = positions.get(trade.symbol)
        if position is None:
            _record_closed(trade, exchange, report)
        elif position.size != trade.open_quantity and not _follow_parts(trade, position.size, exchange, report) \
                and not _follow_entry_fill(trade, position.size, exchange, report):
            report.mismatches.append(
                f"{trade.symbol}: the exchange holds {position.size}, trade {trade.pk} expects "
                f"{trade.open_quantity} (changed by hand?)")
        elif position.stop_loss is None and trade.strategy is not None and (
                trade.executed_at is None or trade.executed_at <= now - UNPROTECTED_GRACE):
            _protect_again(trade, exchange, report, sleep)
        elif position.stop_loss is not None and position.stop_loss != trade.stop_loss:
            _follow_stop(trade, position.stop_loss)
    known = set(Trade.objects.live().values_list("symbol", flat=True))
    for symbol, position in positions.items():
        if symbol not in known:
            report.unknown_positions.append(
                f"{symbol}: a {position.side} position of {position.size} that no trade of the bot opened "
                f"(left alone)")
    for line in report.findings:
        logger.warning("reconciliation: %s", line)
    return report


def _settle_pending(trade: Trade, exchange: Exchange, now: datetime, report: ReconcileReport, sleep) -> None:
    try:
        order = exchange.find_order(trade.symbol, trade.order_link_id)
    except ExchangeError as error:
        report.errors.append(f"trade {trade.pk}: lookup of {trade.order_link_id} failed: {error}")
        return
    if order is None:
        if now - trade.created_at >= UNSEEN_ORDER_GRACE and fail_entry(
                trade, "the order never reached the exchange (no order with this orderLinkId)").outcome == "failed":
            report.failed.append(trade)
        return
    params = RiskParams.from_strategy(trade.strategy) if trade.strategy else None  # manual: its own SL/TP
    result = settle_entry(trade, order, exchange=exchange, params=params, **({"sleep": sleep} if sleep else {}))
    if result.outcome == "failed":
        report.failed.append(trade)
    elif result.outcome != "pending":
        report.opened.append(trade)


def _partly_taken(trade: Trade, size: Decimal) -> bool:
    """A position smaller than its trade, whose strategy takes profit in parts: a target filled."""
    return 0 < size < trade.quantity and trade.strategy is not None and bool(trade.strategy.take_profit_targets)


def _follow_parts(trade: Trade, size: Decimal, exchange: Exchange, report: ReconcileReport) -> bool:
    """A partial take-profit filled: the trade records what the parts took, their PnL and fees, from the exchange's
    closed-PnL records since the entry, so it holds what the position holds. Recomputed from all the records each
    time (a part seen twice counts once). True when the records account for the position's size."""
    if not _partly_taken(trade, size):
        return False
    closes = _closes_since_entry(trade, exchange, report)
    if closes is None:
        return True  # the records could not be read: the next pass follows; a part filling is no mismatch
    taken = sum((c.qty for c in closes), Decimal("0"))
    if trade.quantity - taken != size:
        return False
    direction = 1 if trade.side == "Buy" else -1
    gross = sum((direction * (c.exit_price - trade.price) * c.qty for c in closes), Decimal("0"))
    # Bybit's closed PnL is net of the part's share of the entry fee and of its own closing fee.
    entry_share = sum(((trade.fees or Decimal("0")) * c.qty / trade.quantity for c in closes), Decimal("0"))
    fees = max(Decimal("0"), gross - entry_share - sum((c.realized_pnl for c in closes), Decimal("0")))
    if (trade.closed_quantity, trade.partial_gross, trade.partial_fees) != (taken, gross, fees) and trade.transition(
            [TradeStatus.OPEN], closed_quantity=taken, partial_gross=gross, partial_fees=fees):
        logger.info("partial take-profit recorded", extra={**trade.log_extra, "closed_quantity": str(taken),
                                                           "holds": str(size), "partial_gross": str(gross)})
    return True


def _closes_since_entry(trade: Trade, exchange: Exchange, report: ReconcileReport):
    try:
        return [c for c in exchange.get_closed_pnl(trade.symbol, since=trade.executed_at)
                if trade.executed_at is None or c.closed_at >= trade.executed_at]
    except ExchangeError as error:
        report.errors.append(f"trade {trade.pk}: closed PnL unavailable: {error}")
        return None


def _follow_stop(trade: Trade, stop: Decimal) -> None:
    """The exchange moved the stop (it trails): the trade says where it now stands."""
    before = trade.stop_loss
    if trade.transition([TradeStatus.OPEN], stop_loss=stop):
        logger.info("stop-loss follows the exchange's", extra={**trade.log_extra, "from": str(before),
                                                               "to": str(stop)})


def _follow_entry_fill(trade: Trade, size: Decimal, exchange: Exchange, report: ReconcileReport) -> bool:
    """An open trade smaller than its position, whose entry order has since filled exactly the position's size
    (a fill that arrived after the answer): the same trade takes the new size. True when it did."""
    try:
        order = exchange.find_order(trade.symbol, trade.order_link_id)
    except ExchangeError as error:
        report.errors.append(f"trade {trade.pk}: lookup of {trade.order_link_id} failed: {error}")
        return False
    if order is None or order.filled_qty != size:
        return False
    return settle_entry(trade, order, exchange=exchange).detail.startswith("fill grew")


def _protect_again(trade: Trade, exchange: Exchange, report: ReconcileReport, sleep) -> None:
    """Set the stop-loss, the take-profit and the trailing stop from the fill price, as the cycle would have (a
    strategy with partial targets gets no full take-profit: it would close the whole position at the first target;
    targets still resting are left as they are); if the exchange still refuses them, close the position (and if
    that fails too, the next pass tries again)."""
    try:
        if trade.price is None:
            raise RiskRejected("the trade has no fill price")
        rules = exchange.get_instrument(trade.symbol)
        plan = exit_plan(Side(trade.side), trade.price, trade.quantity, RiskParams.from_strategy(trade.strategy),
                         rules)
    except (ExchangeError, RiskRejected) as error:
        report.errors.append(f"trade {trade.pk}: {trade.symbol} has no stop-loss and none can be computed: {error}")
        return
    stop, target = plan.stop, plan.take_profit
    error = protect(exchange, trade.symbol, stop, target, plan)
    if error is None:
        trade.transition([TradeStatus.OPEN], stop_loss=stop_now(exchange, trade.symbol, stop, plan),
                         take_profit=target)
        logger.warning("an unprotected position got its stop-loss", extra={**trade.log_extra, "stop_loss": str(stop)})
        report.protected.append(trade)
        return
    result = close_unprotected(trade, exchange=exchange, error=error, **({"sleep": sleep} if sleep else {}))
    if result.outcome == "closed":
        report.closed.append(trade)
    else:
        report.errors.append(f"trade {trade.pk}: {trade.symbol} has no stop-loss: {result.detail}")


def _record_closed(trade: Trade, exchange: Exchange, report: ReconcileReport) -> None:
    closes = _closes_since_entry(trade, exchange, report)
    if closes is None:
        return
    if not closes:
        report.mismatches.append(f"{trade.symbol}: trade {trade.pk} is open but the exchange has neither a position "
                                 f"nor a closing record yet")
        return
    qty = sum((c.qty for c in closes), Decimal("0"))
    exit_price = sum((c.exit_price * c.qty for c in closes), Decimal("0")) / qty
    realized = sum((c.realized_pnl for c in closes), Decimal("0"))
    entry_fee = trade.fees or Decimal("0")
    # Bybit's closedPnl already has both fees deducted; the exit fee is what is left to attribute.
    direction = 1 if trade.side == "Buy" else -1
    gross = direction * (exit_price - trade.price) * qty
    # Every closing fee is what is left to attribute; record_exit adds back the parts' fees already recorded.
    exit_fee = max(Decimal("0"), gross - realized - entry_fee - trade.partial_fees)
    reason = _close_reason(trade, exit_price)
    if record_exit(trade, exit_price=exit_price, exit_fee=exit_fee, closed_at=max(c.closed_at for c in closes),
                   reason=reason, realized_pnl=realized):
        report.closed.append(trade)


def _close_reason(trade: Trade, exit_price: Decimal) -> str:
    def near(level):
        return level is not None and abs(exit_price - level) <= level * Decimal("0.002")

    if near(trade.stop_loss):
        return "stop-loss hit"
    if near(trade.take_profit):
        return "take-profit hit"
    return "closed on the exchange (by hand or liquidation)"
