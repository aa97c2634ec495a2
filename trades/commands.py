"""The command layer: one function per change a person can ask for of the exchange and the trades.

Each takes the acting user first and runs the same guards whichever front end calls it (the API, the dashboard's
pages and forms, ``manage.py``, chat): the permission, the live trading switch, the order notional limit (checked
once, with one ticker read) and the order rate limit. It changes the exchange and the database together, announces
once, and refuses with a plain domain error (``core.errors``) that each front end words its own way.

Strategy changes (activate, deactivate, pause, resume) are ``strategies.services``'; launching a backtest is
``trades.backtest.commands``'.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.security import SET_LEVERAGE, order_guard, order_notional_limit
from exchange import services as exchange_services
from exchange.base import Exchange
from market.errors import ExchangeError, OrderStateUnknownError
from market.types import Order, OrderRequest, OrderStatus, OrderType
from trades import announce
from trades.execution import (
    Execution,
    await_fill,
    cancel_rest,
    execute_exit,
    fail_entry,
    move_protection,
    settle_entry,
)
from trades.models import Trade, TradeStatus

logger = logging.getLogger(__name__)


def close_trade(user, trade_id: int, *, exchange: Exchange, reason: str = "closed by the operator",
                sleep: Callable[[float], None] = time.sleep) -> Execution:
    """Close an open trade's position with a reduce-only market order; the row closes with the fill."""
    order_guard(user)
    trade = _trade(trade_id)
    return _close(trade, exchange=exchange, reason=reason, sleep=sleep)


def _close(trade: Trade, *, exchange: Exchange, reason: str, sleep: Callable[[float], None]) -> Execution:
    if trade.status != TradeStatus.OPEN:
        raise Conflict(f"Trade {trade.pk} is {trade.status}; only an open trade can be closed.")
    return execute_exit(trade, exchange=exchange, reason=reason, sleep=sleep)


def cancel_trade(user, trade_id: int, *, exchange: Exchange) -> Trade:
    """Cancel a pending trade: its order is cancelled on the exchange if it is still resting there.

    If the order turns out to have filled meanwhile, nothing is cancelled: the trade is (or will be,
    at the next reconciliation) open, and the caller is told so.
    """
    order_guard(user)
    trade = _trade(trade_id)
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


def cancel_order(user, order_id: str, *, exchange: Exchange, symbol: str | None = None) -> str:
    """Cancel a resting order by its order id or orderLinkId (found among the open orders when ``symbol`` is not
    given); a manual order's pending trade ends with it. Returns the order's symbol."""
    order_guard(user)
    by_link = False
    if symbol is None:
        match = next((order for order in exchange.get_open_orders() if order_id in (order.order_id,
                                                                                     order.order_link_id)), None)
        if match is None:
            raise NotFound(f"no open order {order_id}")
        symbol, by_link = match.symbol, match.order_link_id == order_id and match.order_id != order_id
    if by_link:
        exchange.cancel_order(symbol, order_link_id=order_id)
    else:
        exchange.cancel_order(symbol, order_id=order_id)
    logger.info("order cancelled", extra={"symbol": symbol, "order_id": order_id, "user": user.get_username()})
    _settle_cancelled_orders(exchange, symbol)
    return symbol


def cancel_all_orders(user, *, exchange: Exchange, symbol: str | None = None) -> int:
    """Cancel every resting order (of ``symbol``, or all); manual orders' pending trades end with them."""
    order_guard(user)
    cancelled = exchange.cancel_all_orders(symbol)
    logger.info("%s orders cancelled", cancelled, extra={"symbol": symbol or "all", "user": user.get_username()})
    _settle_cancelled_orders(exchange, symbol)
    return cancelled


def set_leverage(user, symbol: str, leverage: Decimal, *, exchange: Exchange) -> None:
    order_guard(user, SET_LEVERAGE)
    exchange.set_leverage(symbol, leverage)
    logger.info("leverage set to %s", leverage, extra={"symbol": symbol, "user": user.get_username()})


def _settle_cancelled_orders(exchange: Exchange, symbol: str | None = None) -> list[Trade]:
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


def place_order(user, request: OrderRequest, *, exchange: Exchange,
                sleep: Callable[[float], None] = time.sleep) -> tuple[Order, Execution | None]:
    """A manual order. An opening order is recorded as a manual Trade (no strategy) *before* it is sent, like the
    cycle's, and its answer is applied by the same ``settle_entry``; a reduce-only order changes an existing position
    and gets no row (its execution is None)."""
    order_guard(user)
    if not request.order_link_id:
        request = replace(request, order_link_id=exchange_services.new_order_link_id())
    if not request.reduce_only:
        _check_notional(user, exchange_services.order_notional(exchange, request))
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


def close_position(user, symbol: str, *, exchange: Exchange, order_link_id: str | None = None,
                   sleep: Callable[[float], None] = time.sleep) -> tuple[Order, Trade | None]:
    """Close ``symbol``'s position. A position the bot's trade holds closes through that trade (the row closes
    at once, the operator as the reason), as the Trades page's Close does; a position no trade holds is closed
    on the exchange alone. Returns the closing order and the trade."""
    order_guard(user)
    order, trade = _close_position(symbol, exchange=exchange, order_link_id=order_link_id, sleep=sleep)
    if order is None:
        raise Conflict(f"there is no open position on {symbol}"
                       + (f"; trade {trade.pk} is settled by the reconciler" if trade else ""))
    return order, trade


def _close_position(symbol: str, *, exchange: Exchange, order_link_id: str | None,
                    sleep: Callable[[float], None]) -> tuple[Order | None, Trade | None]:
    trade = Trade.objects.live().on(symbol).select_related("strategy").first()
    if trade is None:
        return exchange_services.close_position(exchange, symbol, order_link_id), None
    if trade.status == TradeStatus.PENDING:
        raise Conflict(f"Trade {trade.pk} on {symbol} is still pending (its entry order is not settled); cancel "
                       f"it, or wait for it to open.")
    result = _close(trade, exchange=exchange, reason="closed by the operator", sleep=sleep)
    return result.order, result.trade


def change_protection(user, symbol: str, *, exchange: Exchange, stop_loss: Decimal | None = None,
                      take_profit: Decimal | None = None) -> Trade | None:
    """Set (or with 0 cancel) the position's stop-loss / take-profit on the exchange, and the open trade on
    ``symbol`` says the same (prices rounded to the tick, as the exchange stores them). Returns that trade."""
    order_guard(user)
    rules = exchange.get_instrument(symbol)
    stop_loss, take_profit = (None if value is None else rules.round_price(value) for value in (stop_loss, take_profit))
    trade = Trade.objects.open().on(symbol).first()
    move_protection(exchange, symbol, trade, why="stop-loss / take-profit changed", stop_loss=stop_loss,
                    take_profit=take_profit)
    return trade


def _trade(trade_id: int) -> Trade:
    trade = Trade.objects.select_related("strategy").filter(pk=trade_id).first()
    if trade is None:
        raise NotFound(f"There is no trade {trade_id}.")
    return trade


def _check_notional(user, notional: Decimal) -> None:
    """The order value against MAX_ORDER_NOTIONAL (the request is wrong: 400) and the user's own limit (403)."""
    if notional > settings.MAX_ORDER_NOTIONAL:
        raise Invalid(f"order value {notional:.2f} USDT is above the limit of {settings.MAX_ORDER_NOTIONAL} USDT "
                      f"(MAX_ORDER_NOTIONAL)", field="qty")
    limit = order_notional_limit(user)
    if notional > limit:
        raise Forbidden(
            f"This order is worth {notional:.2f} USDT, above {user.get_username()}'s max order notional of "
            f"{limit:.2f} USDT. An administrator can raise it in the admin, under Bot \u203a Operator settings, up "
            f"to MAX_ORDER_NOTIONAL ({settings.MAX_ORDER_NOTIONAL} USDT).")


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
