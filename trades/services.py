"""One function per change an operator can ask for, shared by the API, the dashboard and commands."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from exchange import services as exchange_services
from exchange.base import Exchange, Order, OrderRequest, OrderStatus
from exchange.errors import ExchangeError, OrderStateUnknownError
from tradebot.api import Conflict
from trades import announce
from trades.execution import Execution, await_fill, execute_exit
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
    pending = Trade.objects.filter(status=TradeStatus.PENDING)
    for trade in pending.filter(symbol=symbol) if symbol else pending:
        order = exchange.find_order(trade.symbol, trade.order_link_id)
        if order is not None and order.status.is_final and order.status != OrderStatus.FILLED and not order.filled_qty:
            if trade.mark_cancelled(f"order {order.status.lower()} through the exchange API"):
                announce.trade_failed(trade)
                settled.append(trade)
    return settled


def place_manual_order(request: OrderRequest, *, exchange: Exchange, max_notional: Decimal | None = None,
                       sleep: Callable[[float], None] = time.sleep) -> tuple[Order, Trade | None]:
    """An order from the API. An opening order is recorded as a manual Trade (no strategy) *before*
    it is sent, like the cycle's; a reduce-only order changes an existing position and gets no row."""
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
            trade.mark_failed(f"order refused: {error}")
        raise
    if trade is None:
        return order, None
    order = await_fill(exchange, request.symbol, request.order_link_id, order, sleep=sleep) or order
    if order.status == OrderStatus.FILLED:
        if trade.mark_open(order_id=order.order_id, price=order.avg_price, quantity=order.filled_qty,
                           fees=order.fee, executed_at=order.updated_at or timezone.now()):
            announce.trade_opened(trade)
    elif order.status.is_final:
        trade.mark_failed(f"order ended {order.status}: {order.reject_reason or 'no reason given'}")
    else:
        trade.transition([TradeStatus.PENDING], order_id=order.order_id)  # a resting limit order
    return order, trade


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
