"""Bybit v5 (USDT linear perpetuals, one-way mode) through pybit: testnet, demo, live or any compatible endpoint.

Retries live in ``exchange.bybit_http`` (one place). Here, the order rule: an order create is sent once.
If its answer is lost (timeout, 5xx, dropped connection) the order is looked up by its orderLinkId,
a few times with backoff; found, it is returned; not found, ``OrderStateUnknownError`` tells the caller
to leave it to the reconciler, which looks it up again later. A duplicate orderLinkId (retCode 110072)
means an earlier send got through: that order is looked up and returned.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pandas as pd
from django.utils import timezone

from exchange import bybit_parse as parse
from exchange.base import Exchange, Subscription
from exchange.bybit_http import DEFAULT_RETRY, BybitHttp, RetryPolicy
from exchange.market_data import CATEGORY, BybitPublicMarketData
from exchange.streams import bybit_ticker_stream
from market.errors import (
    InvalidOrderError,
    OrderNotFoundError,
    OrderRejectedError,
    OrderStateUnknownError,
    RateLimitedError,
    TemporaryError,
)
from market.instruments import check_symbol, conform
from market.types import (
    Balance,
    Candle,
    ClosedPnl,
    InstrumentRules,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Ticker,
)

logger = logging.getLogger(__name__)

SETTLE_COIN = "USDT"
ENDPOINTS = {
    "testnet": "https://api-testnet.bybit.com",
    "demo": "https://api-demo.bybit.com",
    "live": "https://api.bybit.com",
}
WS_ENDPOINTS = {
    "testnet": "wss://stream-testnet.bybit.com",
    "demo": "wss://stream.bybit.com",  # demo trading has no public stream of its own: market data is mainnet's
    "live": "wss://stream.bybit.com",
}
DUPLICATE_ORDER_LINK_ID = 110072
LEVERAGE_NOT_MODIFIED = 110043
TRADING_STOP_NOT_MODIFIED = 34040


def wire(value: Decimal) -> str:
    """A Decimal as Bybit wants it: plain digits, never exponent notation (``1E+2``)."""
    return format(value, "f")


class BybitExchange(Exchange):
    name = "bybit"

    def __init__(self, *, api_key: str, api_secret: str, base_url: str, ws_url: str = WS_ENDPOINTS["live"],
                 timeout: float = 10, recv_window: int = 5000, sleep: Callable[[float], None] = time.sleep,
                 retry: RetryPolicy = DEFAULT_RETRY, lookup_attempts: int = 4, rng: random.Random | None = None,
                 name: str = "bybit"):
        self.name = name
        self.http = BybitHttp(base_url=base_url, api_key=api_key, api_secret=api_secret, timeout=timeout,
                              recv_window=recv_window, sleep=sleep, retry=retry, rng=rng)
        self.ws_url = ws_url
        self.sleep = sleep
        self.retry = retry
        self.lookup_attempts = lookup_attempts
        self.market = BybitPublicMarketData(self.http)  # klines, tickers, instrument rules: one implementation

    # Account
    def get_balance(self) -> Balance:
        return parse.balance(self.http.call("get_wallet_balance", accountType="UNIFIED", coin=SETTLE_COIN))

    def get_positions(self, symbol: str | None = None) -> list[Position]:
        result = self.http.call("get_positions", category=CATEGORY, **self._scope(symbol), limit=200)
        return [parse.position(row) for row in result.get("list") or [] if parse.dec(row.get("size"))]

    # Orders
    def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        result = self.http.call("get_open_orders", category=CATEGORY, **self._scope(symbol), openOnly=0, limit=50)
        orders = [parse.order(row) for row in result.get("list") or []]
        return [order for order in orders if not order.status.is_final]

    def get_order_history(self, symbol: str | None = None, limit: int = 50) -> list[Order]:
        params = {"symbol": check_symbol(symbol)} if symbol else {}
        result = self.http.call("get_order_history", category=CATEGORY, limit=min(max(limit, 1), 50), **params)
        return [parse.order(row) for row in result.get("list") or []]

    def find_order(self, symbol: str, order_link_id: str) -> Order | None:
        for method in ("get_open_orders", "get_order_history"):
            result = self.http.call(method, category=CATEGORY, symbol=symbol, orderLinkId=order_link_id)
            rows = [row for row in result.get("list") or [] if row.get("orderLinkId") == order_link_id]
            if rows:
                return parse.order(rows[0])
        return None

    def place_order(self, request: OrderRequest) -> Order:
        check_symbol(request.symbol)
        request = conform(request, self.get_instrument(request.symbol))
        log = {"symbol": request.symbol, "order_link_id": request.order_link_id}
        logger.info("sending order %s %s %s", request.side, request.qty, request.order_type, extra=log)
        try:
            result = self.http.call("place_order", idempotent=False, **self._order_params(request))
        except RateLimitedError:
            raise  # refused before it was processed: nothing was placed
        except TemporaryError as error:
            return self._settle_lost_order(request, error)
        except OrderRejectedError as error:
            if error.ret_code != DUPLICATE_ORDER_LINK_ID:
                logger.warning("order rejected: %s", error, extra=log)
                raise
            logger.info("orderLinkId already used: returning the order placed earlier", extra=log)
            return self._settle_lost_order(request, error)
        # Placement is asynchronous: the answer carries only the ids, so read the order back for its state.
        placed = self._lookup(request)
        if placed is None:
            placed = Order(order_id=result.get("orderId", ""), order_link_id=request.order_link_id,
                           symbol=request.symbol, side=request.side, order_type=request.order_type,
                           qty=request.qty, price=request.price, status=OrderStatus.NEW,
                           reduce_only=request.reduce_only, created_at=timezone.now())
        logger.info("order placed: %s", placed.status, extra={**log, "order_id": placed.order_id})
        return placed

    def _order_params(self, request: OrderRequest) -> dict:
        params = {"category": CATEGORY, "symbol": request.symbol, "side": str(request.side),
                  "orderType": str(request.order_type), "qty": wire(request.qty), "positionIdx": 0,
                  "orderLinkId": request.order_link_id, "reduceOnly": request.reduce_only}
        if request.order_type == OrderType.LIMIT:
            params.update(price=wire(request.price), timeInForce="GTC")
        if request.stop_loss or request.take_profit:
            params["tpslMode"] = "Full"
            if request.stop_loss:
                params["stopLoss"] = wire(request.stop_loss)
            if request.take_profit:
                params["takeProfit"] = wire(request.take_profit)
        return params

    def _settle_lost_order(self, request: OrderRequest, error: Exception) -> Order:
        """The answer to an order create was lost (or it was a duplicate): find the order, never re-send."""
        logger.warning("order outcome unknown (%s); looking it up by orderLinkId", error,
                       extra={"symbol": request.symbol, "order_link_id": request.order_link_id})
        for attempt in range(self.lookup_attempts):
            if attempt:
                self.sleep(self.retry.delay(attempt - 1, error, self.http.rng))
            found = self._lookup(request)
            if found is not None:
                logger.info("order found by orderLinkId: %s", found.status,
                            extra={"symbol": request.symbol, "order_link_id": request.order_link_id,
                                   "order_id": found.order_id})
                return found
        raise OrderStateUnknownError(
            f"order {request.order_link_id} was sent but its answer was lost ({error}), and "
            f"{self.lookup_attempts} lookups by orderLinkId did not find it; it was not sent again",
            order_link_id=request.order_link_id)

    def _lookup(self, request: OrderRequest) -> Order | None:
        try:
            return self.find_order(request.symbol, request.order_link_id)
        except TemporaryError as error:
            logger.warning("order lookup failed: %s", error, extra={"order_link_id": request.order_link_id})
            return None

    def cancel_order(self, symbol: str, *, order_id: str | None = None, order_link_id: str | None = None) -> None:
        if not (order_id or order_link_id):
            raise InvalidOrderError("cancel_order needs an order_id or an order_link_id")
        params = {"orderId": order_id} if order_id else {"orderLinkId": order_link_id}
        try:
            self.http.call("cancel_order", category=CATEGORY, symbol=check_symbol(symbol), **params)
        except OrderNotFoundError:
            # A retried cancel whose first attempt got through answers "order not exists": check, don't guess.
            if not self._was_cancelled(symbol, order_id, order_link_id):
                raise
        logger.info("order cancelled", extra={"symbol": symbol, "order_id": order_id, "order_link_id": order_link_id})

    def _was_cancelled(self, symbol: str, order_id: str | None, order_link_id: str | None) -> bool:
        params = {"orderId": order_id} if order_id else {"orderLinkId": order_link_id}
        result = self.http.call("get_order_history", category=CATEGORY, symbol=symbol, **params)
        return any(row.get("orderStatus") in (OrderStatus.CANCELLED, OrderStatus.PARTIALLY_FILLED_CANCELED)
                   for row in result.get("list") or [])

    def cancel_all_orders(self, symbol: str | None = None) -> int:
        result = self.http.call("cancel_all_orders", category=CATEGORY, **self._scope(symbol))
        cancelled = len(result.get("list") or [])
        logger.info("cancelled %d open orders", cancelled, extra={"symbol": symbol or "all"})
        return cancelled

    # Positions
    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        value = wire(Decimal(leverage).normalize())
        self.http.call("set_leverage", category=CATEGORY, symbol=check_symbol(symbol), buyLeverage=value,
                       sellLeverage=value, ok_codes=frozenset({LEVERAGE_NOT_MODIFIED}))

    def set_trading_stop(self, symbol: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None,
                         trailing_stop: Decimal | None = None, active_price: Decimal | None = None) -> None:
        if stop_loss is None and take_profit is None and trailing_stop is None:
            raise InvalidOrderError("set a stop_loss, a take_profit, a trailing_stop or more (0 cancels one)")
        if trailing_stop is not None and trailing_stop < 0:
            raise InvalidOrderError(f"trailing_stop is a distance in price, 0 or more, got {trailing_stop}")
        rules = self.get_instrument(symbol)
        params = {"category": CATEGORY, "symbol": symbol, "tpslMode": "Full", "positionIdx": 0}
        if stop_loss is not None:
            params["stopLoss"] = wire(rules.round_price(stop_loss)) if stop_loss else "0"
        if take_profit is not None:
            params["takeProfit"] = wire(rules.round_price(take_profit)) if take_profit else "0"
        if trailing_stop is not None:  # a distance in price, on the tick like a price (Bybit's trailingStop)
            params["trailingStop"] = wire(max(rules.tick_size, rules.round_price(trailing_stop))) if trailing_stop \
                else "0"
            if trailing_stop and active_price:
                params["activePrice"] = wire(rules.round_price(active_price))
        self.http.call("set_trading_stop", ok_codes=frozenset({TRADING_STOP_NOT_MODIFIED}), **params)
        logger.info("trading stop set", extra={"symbol": symbol, "stop_loss": stop_loss, "take_profit": take_profit,
                                               "trailing_stop": trailing_stop, "active_price": active_price})

    def add_partial_take_profit(self, symbol: str, *, price: Decimal, qty: Decimal) -> None:
        rules = self.get_instrument(symbol)
        self.http.call("set_trading_stop", category=CATEGORY, symbol=check_symbol(symbol), tpslMode="Partial",
                       positionIdx=0, takeProfit=wire(rules.round_price(price)), tpSize=wire(rules.round_qty(qty)),
                       tpOrderType="Market")
        logger.info("partial take-profit set", extra={"symbol": symbol, "take_profit": price, "qty": qty})

    def close_position(self, symbol: str, order_link_id: str) -> Order | None:
        positions = self.get_positions(symbol)
        if not positions:
            return None
        position = positions[0]
        return self.place_order(OrderRequest(symbol=symbol, side=position.side.opposite, qty=position.size,
                                             order_link_id=order_link_id, reduce_only=True))

    def get_closed_pnl(self, symbol: str | None = None, since: datetime | None = None,
                       limit: int = 50) -> list[ClosedPnl]:
        params = {"symbol": check_symbol(symbol)} if symbol else {}
        if since is not None:
            params["startTime"] = parse.datetime_to_ms(since)
        result = self.http.call("get_closed_pnl", category=CATEGORY, limit=min(max(limit, 1), 100), **params)
        return [parse.closed_pnl(row) for row in result.get("list") or []]

    # Market data
    def get_klines(self, symbol: str, interval: str, limit: int = 200) -> list[Candle]:
        return self.market.klines(symbol, interval, limit)

    def get_kline_frame(self, symbol: str, interval: str, limit: int = 200) -> pd.DataFrame:
        return parse.kline_frame(self.market.kline_result(symbol, interval, limit))

    def get_ticker(self, symbol: str) -> Ticker:
        return self.market.ticker(symbol)

    def get_instrument(self, symbol: str) -> InstrumentRules:
        return self.market.instrument(symbol)

    def subscribe(self, symbols: list[str], on_ticker: Callable[[Ticker], None]) -> Subscription:
        return bybit_ticker_stream(self.ws_url, [check_symbol(symbol) for symbol in symbols], on_ticker)

    def server_time(self) -> datetime:
        result = self.http.call("get_server_time")
        return parse.ms_to_datetime(int(result["timeNano"]) // 1_000_000) if result.get("timeNano") else timezone.now()

    @staticmethod
    def _scope(symbol: str | None) -> dict:
        """Bybit's linear list/cancel-all endpoints need a symbol or a settle coin."""
        return {"symbol": check_symbol(symbol)} if symbol else {"settleCoin": SETTLE_COIN}
