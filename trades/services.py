"""One function per change an operator can ask for, shared by the API, the dashboard and commands."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from django.db import IntegrityError, transaction

from core.api import Conflict
from exchange import services as exchange_services
from exchange.base import Exchange
from market.errors import ExchangeError, OrderStateUnknownError
from market.types import Order, OrderRequest, OrderStatus, OrderType
from trades import announce
from trades.execution import Execution, await_fill, cancel_rest, execute_exit, fail_entry, settle_entry
from trades.models import Trade, TradeStatus

logger = logging.getLogger(__name__)


def close_trade(trade: Trade, *, exchange: Exchange, reason: str = "closed by the operator",
                sleep: Callable[[float], None] = time.sleep) -> Execution:
    if trade.status != TradeStatus.OPEN:
        raise Conflict(f"Trade {trade.pk} is {trade.status}; only an open trade can be closed.")
    return execute_exit(trade, exchange=exchange, reason=reason, sleep=sleep)


def cancel_trade(trade: Trade, *, exchange: Exchange) -> Trade:
    """Cancel a pending trade: its order is cancelled on the exchange if it is still resting there.

    If the order turns out to have filled meanwhile, nothing is cancelled: the trade is (or will be,
    at the next reconciliation) open, and the caller is told so.
    """
    if trade.status != TradeStatus.PENDING:
        raise Conflict(f"Trade {trade.pk} is {trade.status}; only a pending trade can be cancelled"
                       + ("; close it instead." if trade.status == TradeStatus.OPEN else "."))
    order = exchange.find_order(trade.symbol, trade.order_link_id)
    if order is not None and order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
        raise Conflict(f"Trade {trade.pk}'s order has already {order.status.lower()}; it is being recorded as open. "
                       f"Close it instead.")
    if order is not None and not order.status.is_final:
        exchange.cancel_order(trade.symbol, order_link_id=trade.order_link_id)
    if not trade.mark_cancelled("cancelled by the operator"):
        trade.refresh_from_db()
        raise Conflict(f"Trade {trade.pk} changed to {trade.status} meanwhile; nothing was cancelled.")
    logger.info("trade cancelled", extra=trade.log_extra)
    announce.trade_failed(trade)
    return trade


def settle_cancelled_orders(exchange: Exchange, symbol: str | None = None) -> list[Trade]:
    """After orders were cancelled through the exchange API, their pending trades become ``cancelled``
    at once (instead of blocking the symbol until the next reconciliation)."""
    settled = []
    pending = Trade.objects.pending()
    for trade in pending.filter(symbol=symbol) if symbol else pending:
        order = exchange.find_order(trade.symbol, trade.order_link_id)
        if order is not None and order.status.is_final and order.status != OrderStatus.FILLED and not order.filled_qty:
            if trade.mark_cancelled(f"order {order.status.lower()} through the exchange API"):
                announce.trade_failed(trade)
                settled.append(trade)
    return settled


def place_manual_order(request: OrderRequest, *, exchange: Exchange, max_notional: Decimal | None = None,
                       sleep: Callable[[float], None] = time.sleep) -> tuple[Order, Execution | None]:
    """An order from the API. An opening order is recorded as a manual Trade (no strategy) *before*
    it is sent, like the cycle's, and its answer is applied by the same ``settle_entry``; a reduce-only order
    changes an existing position and gets no row (its execution is None)."""
    if not request.order_link_id:
        request = replace(request, order_link_id=exchange_services.new_order_link_id())
    exchange_services.check_notional(exchange, request, max_notional)
    trade = None if request.reduce_only else _record_manual(request)
    try:
        order = exchange_services.send_order(exchange, request)
    except OrderStateUnknownError:
        raise  # the trade stays pending; the reconciler settles it by its orderLinkId
    except ExchangeError as error:
        if trade is not None:
            fail_entry(trade, f"order refused: {error}")
        raise
    if trade is None:
        return order, None
    order = await_fill(exchange, request.symbol, request.order_link_id, order, sleep=sleep) or order
    if order.status == OrderStatus.PARTIALLY_FILLED and order.order_type == OrderType.MARKET:
        order = cancel_rest(exchange, order, sleep=sleep)
    return order, settle_entry(trade, order, exchange=exchange, sleep=sleep)


def order_problem(order: Order, result: Execution | None) -> str | None:
    """What the exchange did not do of an order, in words, or None when it did everything asked (filled, or resting
    as a limit order). The API answers 502 with it; the dashboard shows it."""
    settled_as_asked = result is None or result.outcome == "pending" or (result.outcome == "open" and not result.detail)
    if settled_as_asked and (order.status == OrderStatus.FILLED or not order.status.is_final):
        return None
    reason = order.reject_reason or "no reason given"
    if not order.filled_qty:
        problem = f"The exchange did not fill the order: it ended {order.status} ({reason}). Nothing was done."
    elif order.filled_qty < order.qty:
        problem = f"Only part of the order was done: {order.filled_qty} of {order.qty} {order.symbol} filled " \
                  f"({reason})."
    else:
        problem = "The order filled."
    if result is not None:
        problem += f" Trade {result.trade.pk} is {result.trade.status}"
        problem += f": {result.detail}" if result.detail else ""
    return problem


def close_position(symbol: str, *, exchange: Exchange, order_link_id: str | None = None,
                   sleep: Callable[[float], None] = time.sleep) -> tuple[Order | None, Trade | None]:
    """Close ``symbol``'s position. A position the bot's trade holds closes through that trade (the row closes
    at once, the operator as the reason), as the Trades page's Close does; a position no trade holds is closed
    on the exchange alone. Returns the closing order (None: no position) and the trade."""
    trade = Trade.objects.live().on(symbol).select_related("strategy").first()
    if trade is None:
        return exchange_services.close_position(exchange, symbol, order_link_id), None
    if trade.status == TradeStatus.PENDING:
        raise Conflict(f"Trade {trade.pk} on {symbol} is still pending (its entry order is not settled); cancel "
                       f"it, or wait for it to open.")
    result = close_trade(trade, exchange=exchange, sleep=sleep)
    return result.order, result.trade


def change_protection(symbol: str, *, exchange: Exchange, stop_loss: Decimal | None = None,
                      take_profit: Decimal | None = None) -> Trade | None:
    """Set (or with 0 cancel) the position's stop-loss / take-profit on the exchange, and the open trade on
    ``symbol`` says the same (prices rounded to the tick, as the exchange stores them). Returns that trade."""
    rules = exchange.get_instrument(symbol)
    stop_loss, take_profit = (None if value is None else rules.round_price(value) for value in (stop_loss, take_profit))
    exchange.set_trading_stop(symbol, stop_loss=stop_loss, take_profit=take_profit)
    trade = Trade.objects.open().on(symbol).first()
    changes = {name: value or None for name, value in (("stop_loss", stop_loss), ("take_profit", take_profit))
               if value is not None}
    if trade is not None and trade.transition([TradeStatus.OPEN], **changes):
        logger.info("stop-loss / take-profit changed", extra={**trade.log_extra, **{k: str(v) for k, v in
                                                                                   changes.items()}})
    return trade


def _record_manual(request: OrderRequest) -> Trade:
    try:
        with transaction.atomic():
            return Trade.objects.create(
                strategy=None, symbol=request.symbol, side=request.side, quantity=request.qty, price=request.price,
                stop_loss=request.stop_loss, take_profit=request.take_profit, order_link_id=request.order_link_id,
                reasoning="manual order", status=TradeStatus.PENDING)
    except IntegrityError:
        if Trade.objects.filter(order_link_id=request.order_link_id).exists():
            raise Conflict(f"orderLinkId {request.order_link_id} was already used; nothing was sent.") from None
        raise Conflict(f"{request.symbol} already has a pending or open trade; close it first, or send a "
                       f"reduce-only order.") from None
