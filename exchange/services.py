"""Placing orders on behalf of a person (the API today, the trades app later): one function, one log trail."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from django.conf import settings

from exchange.base import Exchange
from market.errors import ExchangeError, InvalidOrderError
from market.types import Order, OrderRequest

logger = logging.getLogger(__name__)


def new_order_link_id(prefix: str = "man") -> str:
    """A fresh orderLinkId, e.g. ``man-<32 hex>`` (36 characters, Bybit's limit)."""
    return f"{prefix}-{uuid.uuid4().hex}"[:36]


def order_notional(exchange: Exchange, request: OrderRequest) -> Decimal:
    price = request.price or exchange.get_ticker(request.symbol).last_price
    return request.qty * price


def check_notional(exchange: Exchange, request: OrderRequest, max_notional: Decimal | None = None) -> None:
    """Refuse an opening order worth more than ``max_notional`` (default ``MAX_ORDER_NOTIONAL``)."""
    limit = settings.MAX_ORDER_NOTIONAL if max_notional is None else max_notional
    if not request.reduce_only:
        notional = order_notional(exchange, request)
        if notional > limit:
            raise InvalidOrderError(f"order value {notional:.2f} USDT is above MAX_ORDER_NOTIONAL ({limit} USDT)")


def send_order(exchange: Exchange, request: OrderRequest) -> Order:
    """Send ``request`` once through ``exchange``; the request and its outcome are logged with the orderLinkId."""
    log = {"symbol": request.symbol, "order_link_id": request.order_link_id}
    logger.info("order requested: %s %s %s %s%s", request.side, request.qty, request.symbol, request.order_type,
                f" at {request.price}" if request.price else "", extra=log)
    try:
        order = exchange.place_order(request)
    except ExchangeError as error:
        logger.warning("order not placed: %s", error, extra=log)
        raise
    logger.info("order %s: %s filled at %s", order.status, order.filled_qty, order.avg_price,
                extra={**log, "order_id": order.order_id})
    return order


def place_order(exchange: Exchange, request: OrderRequest, *, max_notional: Decimal | None = None) -> Order:
    check_notional(exchange, request, max_notional)
    return send_order(exchange, request)


def close_position(exchange: Exchange, symbol: str, order_link_id: str | None = None) -> Order | None:
    """Close the whole position on ``symbol`` with a reduce-only market order; None if there is none."""
    link = order_link_id or new_order_link_id("cls")
    logger.info("closing position", extra={"symbol": symbol, "order_link_id": link})
    try:
        order = exchange.close_position(symbol, link)
    except ExchangeError as error:
        logger.warning("position not closed: %s", error, extra={"symbol": symbol, "order_link_id": link})
        raise
    if order is None:
        logger.info("no position to close", extra={"symbol": symbol, "order_link_id": link})
    return order
