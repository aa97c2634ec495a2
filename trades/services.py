"""One function per change an operator can ask for, shared by the API, the dashboard and commands."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import IntegrityError, transaction

from exchange.base import Exchange, Order, OrderRequest, OrderStatus
from exchange.errors import ExchangeError, OrderStateUnknownError
from tradebot.api import Conflict
from trades import announce
from trades.execution import Execution, await_fill, execute_exit
from trades.models import Trade, TradeStatus
from trades.order_ids import manual_order_link_id

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


def place_manual_order(request: OrderRequest, *, exchange: Exchange,
                       sleep: Callable[[float], None] = time.sleep) -> tuple[Order | None, Trade | None]:
    """An order from the API. An opening order is recorded as a manual Trade (no strategy) *before*
    it is sent, like the cycle's; a reduce-only order changes an existing position and gets no row."""
    if not request.order_link_id:
        request = OrderRequest(**{**request.__dict__, "order_link_id": manual_order_link_id()})
    trade = None
    if not request.reduce_only:
        try:
            with transaction.atomic():
                trade = Trade.objects.create(
                    strategy=None, symbol=request.symbol, side=request.side, quantity=request.qty,
                    price=request.price, stop_loss=request.stop_loss, take_profit=request.take_profit,
                    order_link_id=request.order_link_id, reasoning="manual order", status=TradeStatus.PENDING)
        except IntegrityError:
            if Trade.objects.filter(order_link_id=request.order_link_id).exists():
                raise Conflict(f"orderLinkId {request.order_link_id} was already used; nothing was sent.") from None
            raise Conflict(f"{request.symbol} already has a pending or open trade; close it first, or send a "
                           f"reduce-only order.") from None
    extra = {"strategy": "manual", "symbol": request.symbol, "order_link_id": request.order_link_id}
    logger.info("sending manual order", extra={**extra, "side": request.side, "qty": str(request.qty)})
    try:
        order = exchange.place_order(request)
    except OrderStateUnknownError:
        logger.warning("manual order state unknown; the reconciler will settle it", extra=extra)
        raise
    except ExchangeError as error:
        if trade is not None:
            trade.mark_failed(f"order refused: {error}")
        raise
    if trade is not None:
        order = await_fill(exchange, request.symbol, request.order_link_id, order, sleep=sleep)
        if order is not None and order.status == OrderStatus.FILLED:
            if trade.mark_open(order_id=order.order_id, price=order.avg_price, quantity=order.filled_qty,
                               fees=order.fee, executed_at=order.updated_at):
                announce.trade_opened(trade)
        elif order is not None and order.status.is_final:
            trade.mark_failed(f"order ended {order.status}: {order.reject_reason or 'no reason given'}")
        elif order is not None:
            trade.transition([TradeStatus.PENDING], order_id=order.order_id)
    return order, trade
