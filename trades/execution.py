"""Steps 7 and 8 of the cycle for one entry: send the order, confirm the fill, protect the position.

The Trade row (status ``pending``, with its orderLinkId) is already committed when this runs, so
whatever happens here, a crash included, the reconciler can settle it by that id. Nothing here ever
sends the same entry twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from exchange.base import Exchange, InstrumentRules, Order, OrderRequest, OrderStatus, OrderType
from exchange.errors import ExchangeError, OrderStateUnknownError, TemporaryError
from trades import announce
from trades.models import Trade, TradeStatus
from trades.order_ids import exit_order_link_id
from trades.risk import RiskParams, protective_prices

logger = logging.getLogger(__name__)

FILL_POLL_DELAYS = (0.2, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Execution:
    trade: Trade
    outcome: str  # "open", "pending", "failed", "closed"
    detail: str = ""


def execute_entry(trade: Trade, *, exchange: Exchange, params: RiskParams, rules: InstrumentRules,
                  sleep: Callable[[float], None] = time.sleep) -> Execution:
    log = trade.log_extra
    try:
        # Always, not only above 1x: the account may hold another leverage for this symbol from earlier.
        exchange.set_leverage(trade.symbol, params.leverage)
    except ExchangeError as error:
        return _fail(trade, f"not sent: setting leverage {params.leverage}x failed: {error}")
    logger.info("sending entry order", extra={**log, "side": trade.side, "qty": str(trade.quantity)})
    try:
        order = exchange.place_order(OrderRequest(symbol=trade.symbol, side=trade.side, qty=trade.quantity,
                                                  order_link_id=trade.order_link_id, order_type=OrderType.MARKET))
    except OrderStateUnknownError as error:
        trade.transition([TradeStatus.PENDING], status_reason=f"answer lost, reconciling by orderLinkId: {error}")
        logger.warning("entry order state unknown; the reconciler will settle it", extra=log)
        return Execution(trade, "pending", str(error))
    except ExchangeError as error:
        return _fail(trade, f"order refused: {error}")

    order = await_fill(exchange, trade.symbol, trade.order_link_id, order, sleep=sleep)
    if order is None or order.status != OrderStatus.FILLED:
        status = order.status if order else "not visible yet"
        if order is not None and order.status.is_final:
            return _fail(trade, f"entry order ended {order.status}: {order.reject_reason or 'no reason given'}")
        trade.transition([TradeStatus.PENDING], order_id=order.order_id if order else "",
                         status_reason=f"entry order {status}; waiting for the fill")
        return Execution(trade, "pending", f"order {status}")
    return confirm_open(trade, order, exchange=exchange, params=params, rules=rules, sleep=sleep)


def confirm_open(trade: Trade, order: Order, *, exchange: Exchange, params: RiskParams, rules: InstrumentRules,
                 sleep: Callable[[float], None] = time.sleep) -> Execution:
    """Record the fill, then set stop-loss and take-profit from the real fill price."""
    fill_price = order.avg_price or trade.price
    if not trade.mark_open(order_id=order.order_id, price=fill_price, quantity=order.filled_qty or trade.quantity,
                           fees=order.fee, executed_at=order.updated_at or timezone.now()):
        trade.refresh_from_db()
        return Execution(trade, trade.status, "already settled by another process")
    logger.info("entry filled", extra={**trade.log_extra, "price": str(fill_price), "fee": str(order.fee)})
    stop, target = protective_prices(order.side, fill_price, params, rules)
    error = protect(exchange, trade.symbol, stop, target)
    if error is None:
        trade.transition([TradeStatus.OPEN], stop_loss=stop, take_profit=target)
        announce.trade_opened(trade)
        return Execution(trade, "open")
    logger.error("stop-loss could not be set; closing the position at once",
                 extra={**trade.log_extra, "error": str(error)})
    announce.trade_opened(trade)
    return close_unprotected(trade, exchange=exchange, error=error, sleep=sleep)


def close_unprotected(trade: Trade, *, exchange: Exchange, error: ExchangeError,
                      sleep: Callable[[float], None] = time.sleep) -> Execution:
    """Close a position whose stop-loss could not be set. If the close cannot be sent either (the exchange
    is still failing), the trade stays open: the reconciler finds its position without a stop-loss and
    tries again, instead of this error ending the cycle with the position left naked."""
    try:
        closed = execute_exit(trade, exchange=exchange, reason=f"closed at once: stop-loss could not be set ({error})",
                              sleep=sleep)
    except ExchangeError as close_error:
        logger.error("the unprotected position could not be closed; the reconciler will try again",
                     extra={**trade.log_extra, "error": str(close_error)})
        return Execution(trade, "open", f"stop-loss could not be set ({error}) nor the position closed "
                                        f"({close_error}); the reconciler will try again")
    return Execution(trade, closed.outcome, f"stop-loss could not be set: {error}")


def protect(exchange: Exchange, symbol: str, stop: Decimal, target: Decimal) -> ExchangeError | None:
    """Set SL/TP; returns the error if it could not be set. (The exchange layer already retried it:
    set_trading_stop is idempotent, and a second retry loop here would only multiply the wait.)"""
    try:
        exchange.set_trading_stop(symbol, stop_loss=stop, take_profit=target)
        return None
    except ExchangeError as error:
        return error


def await_fill(exchange: Exchange, symbol: str, order_link_id: str, order: Order | None, *,
               sleep: Callable[[float], None] = time.sleep) -> Order | None:
    """Market orders fill at once, but Bybit confirms asynchronously: poll the order by its id a few times."""
    for delay in FILL_POLL_DELAYS:
        if order is not None and (order.status == OrderStatus.FILLED or order.status.is_final):
            return order
        sleep(delay)
        try:
            order = exchange.find_order(symbol, order_link_id) or order
        except TemporaryError:
            continue
    return order


def execute_exit(trade: Trade, *, exchange: Exchange, reason: str,
                 sleep: Callable[[float], None] = time.sleep) -> Execution:
    """Close the trade's position with a reduce-only market order whose id is derived from the trade.

    A second close of the same trade reuses the id, so the exchange refuses it instead of reversing
    the position.
    """
    link_id = exit_order_link_id(trade.pk)
    trade.transition([TradeStatus.OPEN], exit_order_link_id=link_id)
    logger.info("closing position", extra={**trade.log_extra, "exit_order_link_id": link_id, "reason": reason})
    try:
        order = exchange.close_position(trade.symbol, link_id)
    except OrderStateUnknownError as error:
        return Execution(trade, "open", f"close sent, answer lost; the reconciler will settle it: {error}")
    order = await_fill(exchange, trade.symbol, link_id, order, sleep=sleep) if order else None
    if order is None:
        # No position on the exchange: it was already closed (stop-loss, take-profit, by hand); the
        # reconciler records the exit from the exchange's closed-PnL history.
        return Execution(trade, "open", "no position on the exchange; the reconciler records how it closed")
    if order.status != OrderStatus.FILLED:
        return Execution(trade, "open", f"close order {order.status}")
    record_exit(trade, exit_price=order.avg_price, exit_fee=order.fee, closed_at=order.updated_at or timezone.now(),
                reason=reason)
    return Execution(trade, trade.status, reason)


def record_exit(trade: Trade, *, exit_price: Decimal, exit_fee: Decimal, closed_at, reason: str,
                realized_pnl: Decimal | None = None) -> bool:
    """Close the trade row (once) and announce it; PnL is net of both fees unless the exchange gave it."""
    fees = (trade.fees or Decimal("0")) + exit_fee
    if realized_pnl is None:
        direction = 1 if trade.side == "Buy" else -1
        realized_pnl = direction * (exit_price - trade.price) * trade.quantity - fees
    if not trade.mark_closed(exit_price=exit_price, realized_pnl=realized_pnl, fees=fees, closed_at=closed_at,
                             reason=reason):
        return False
    logger.info("trade closed", extra={**trade.log_extra, "exit_price": str(exit_price), "pnl": str(realized_pnl),
                                       "reason": reason})
    announce.trade_closed(trade)
    return True


def _fail(trade: Trade, reason: str) -> Execution:
    if trade.mark_failed(reason):
        logger.warning("entry failed", extra={**trade.log_extra, "reason": reason})
        announce.trade_failed(trade)
    return Execution(trade, "failed", reason)

