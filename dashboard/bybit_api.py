"""/api/bybit/...: the seed's 13 exchange endpoints, over whichever exchange the settings chose.

Bad input answers 400 naming the field; the exchange's refusals answer 502 with its message
(``core.api.exception_handler``), a missing position 409, an unknown order 404. Views that change
orders or positions are ``OrderEndpoint``s: the user's live trading switch (403) and a rate limit (429).
"""

from __future__ import annotations

import logging

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.security import LeverageEndpoint, OrderEndpoint, RequiresPermission
from dashboard import bybit_serializers as s
from exchange.factory import get_exchange
from exchange.models import MarketSubscription
from market.candles import is_closed
from market.types import OrderStatus
from trades import commands

logger = logging.getLogger(__name__)

TAG = ["exchange"]
ERRORS = {
    400: OpenApiResponse(description="Invalid input: the body names each bad field and why."),
    502: OpenApiResponse(description="The exchange refused or did not answer; `detail` carries its message."),
}
ORDER_PROBLEM = ("The exchange refused the order, or did not carry it out whole (rejected after it was accepted, "
                 "or partly filled: the trade is open for what filled): `detail` says what was and was not done.")
NOT_CLOSED = OpenApiResponse(description="The close never reached the exchange (sent twice, found neither time): "
                                         "the position is still open.")
SYMBOL_PATH = OpenApiParameter("symbol", str, OpenApiParameter.PATH, description="e.g. BTCUSDT")


class ExchangeView(APIView):
    """Every endpoint here talks to the exchange the settings chose; serializers get it as context."""

    def exchange(self):
        return get_exchange()

    def valid(self, serializer_class, data):
        serializer = serializer_class(data=data, context={"exchange": self.exchange(), "request": self.request})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class BalanceView(ExchangeView):
    @extend_schema(tags=TAG, summary="Account balance (USDT)", responses={200: s.BalanceSerializer, 502: ERRORS[502]})
    def get(self, request):
        return Response(s.BalanceSerializer(self.exchange().get_balance()).data)


class PositionsView(ExchangeView):
    @extend_schema(tags=TAG, summary="Open positions", parameters=[s.SymbolQuerySerializer],
                   responses={200: s.PositionSerializer(many=True), **ERRORS})
    def get(self, request):
        query = self.valid(s.SymbolQuerySerializer, request.query_params)
        return Response(s.PositionSerializer(self.exchange().get_positions(query.get("symbol")), many=True).data)


class OrdersView(OrderEndpoint, ExchangeView):
    @extend_schema(tags=TAG, summary="Open (active) orders", parameters=[s.SymbolQuerySerializer],
                   responses={200: s.OrderSerializer(many=True), **ERRORS})
    def get(self, request):
        query = self.valid(s.SymbolQuerySerializer, request.query_params)
        return Response(s.OrderSerializer(self.exchange().get_open_orders(query.get("symbol")), many=True).data)

    @extend_schema(tags=TAG, summary="Cancel every open order (of one symbol, or all)",
                   parameters=[s.SymbolQuerySerializer], responses={200: s.CancelAllResultSerializer, **ERRORS})
    def delete(self, request):
        query = self.valid(s.SymbolQuerySerializer, request.query_params)
        cancelled = commands.cancel_all_orders(request.user, exchange=self.exchange(), symbol=query.get("symbol"))
        return Response(s.CancelAllResultSerializer({"cancelled": cancelled}).data)


class OrderHistoryView(ExchangeView):
    @extend_schema(tags=TAG, summary="Order history, newest first", parameters=[s.HistoryQuerySerializer],
                   responses={200: s.OrderSerializer(many=True), **ERRORS})
    def get(self, request):
        query = self.valid(s.HistoryQuerySerializer, request.query_params)
        orders = self.exchange().get_order_history(query.get("symbol"), limit=query["limit"])
        return Response(s.OrderSerializer(orders, many=True).data)


class KlineView(ExchangeView):
    @extend_schema(tags=TAG, summary="Candles, oldest first (the newest may still be open)",
                   parameters=[SYMBOL_PATH, OpenApiParameter("interval", str, enum=list(s.INTERVAL_MINUTES),
                                                             default="5"),
                               OpenApiParameter("limit", int, description="1 to 1000", default=200)],
                   responses={200: s.KlineSerializer, **ERRORS})
    def get(self, request, symbol):
        query = self.valid(s.KlineQuerySerializer, {**request.query_params.dict(), "symbol": symbol})
        exchange = self.exchange()
        candles = exchange.get_klines(query["symbol"], query["interval"], query["limit"])
        now = exchange.server_time()
        rows = [{**vars(candle), "closed": is_closed(candle, query["interval"], now)} for candle in candles]
        return Response(s.KlineSerializer({"symbol": query["symbol"], "interval": query["interval"],
                                           "candles": rows}).data)


class PriceView(ExchangeView):
    @extend_schema(tags=TAG, summary="Current price", parameters=[SYMBOL_PATH],
                   responses={200: s.TickerSerializer, **ERRORS})
    def get(self, request, symbol):
        query = self.valid(s.PriceQuerySerializer, {"symbol": symbol})
        return Response(s.TickerSerializer(self.exchange().get_ticker(query["symbol"])).data)


class PlaceOrderView(OrderEndpoint, ExchangeView):
    @extend_schema(tags=TAG, summary="Place an order", request=s.PlaceOrderSerializer,
                   responses={201: s.OrderSerializer, **ERRORS,
                              502: OpenApiResponse(s.OrderProblemSerializer, description=ORDER_PROBLEM)})
    def post(self, request):
        order_request = s.PlaceOrderSerializer.to_request(self.valid(s.PlaceOrderSerializer, request.data))
        order, result = commands.place_order(request.user, order_request, exchange=self.exchange())
        return order_answer(order, result, success=status.HTTP_201_CREATED)


class LeverageView(LeverageEndpoint, ExchangeView):
    @extend_schema(tags=TAG, summary="Set a symbol's leverage", request=s.LeverageSerializer,
                   responses={200: s.LeverageResultSerializer, **ERRORS})
    def post(self, request):
        data = self.valid(s.LeverageSerializer, request.data)
        commands.set_leverage(request.user, data["symbol"], data["leverage"], exchange=self.exchange())
        return Response(s.LeverageResultSerializer(data).data)


class TradingStopView(OrderEndpoint, ExchangeView):
    @extend_schema(tags=TAG, summary="Set (or with 0 cancel) the position's stop-loss / take-profit",
                   request=s.TradingStopSerializer, responses={200: s.TradingStopResultSerializer, **ERRORS})
    def post(self, request):
        data = self.valid(s.TradingStopSerializer, request.data)
        trade = commands.change_protection(request.user, data["symbol"], exchange=self.exchange(),
                                           stop_loss=data.get("stop_loss"), take_profit=data.get("take_profit"))
        return Response(s.TradingStopResultSerializer({**data, "trade": trade.pk if trade else None}).data)


class ClosePositionView(OrderEndpoint, ExchangeView):
    @extend_schema(tags=TAG, summary="Close the whole position with a reduce-only market order",
                   request=s.ClosePositionSerializer,
                   responses={200: s.ClosedPositionSerializer, 409: OpenApiResponse(description="No open position."),
                              **ERRORS, 503: NOT_CLOSED})
    def post(self, request):
        data = self.valid(s.ClosePositionSerializer, request.data)
        order, trade = commands.close_position(request.user, data["symbol"], exchange=self.exchange(),
                                               order_link_id=data.get("order_link_id"))
        if order.status != OrderStatus.FILLED:
            return order_answer(order, None, success=status.HTTP_200_OK)
        return Response(s.ClosedPositionSerializer({**vars(order), "trade": trade.pk if trade else None}).data)


class CancelOrderView(OrderEndpoint, ExchangeView):
    @extend_schema(tags=TAG, summary="Cancel an open order by its order id or orderLinkId",
                   parameters=[OpenApiParameter("order_id", str, OpenApiParameter.PATH),
                               OpenApiParameter("symbol", str, description="Optional; found among open orders "
                                                                           "when missing.")],
                   responses={200: s.CancelResultSerializer, 404: OpenApiResponse(description="No such open order."),
                              **ERRORS})
    def delete(self, request, order_id):
        query = self.valid(s.SymbolQuerySerializer, request.query_params)
        symbol = commands.cancel_order(request.user, order_id, exchange=self.exchange(), symbol=query.get("symbol"))
        return Response(s.CancelResultSerializer({"order_id": order_id, "symbol": symbol, "cancelled": True}).data)


def order_answer(order, result, *, success: int) -> Response:
    """``success`` when the exchange did what was asked (filled, or resting as a limit order); otherwise 502 with
    the exchange's reason, the order and the trade it left, so a script that checks the status code cannot take
    a rejected or partly filled order for a success."""
    body = s.OrderSerializer(order).data
    problem = commands.order_problem(order, result)
    if problem is None:
        return Response(body, status=success)
    return Response({"detail": problem, "order": body, "trade": result.trade.pk if result else None,
                     "exchange_reason": order.reject_reason}, status=status.HTTP_502_BAD_GATEWAY)


class SubscribeView(ExchangeView):
    permission_classes = [RequiresPermission("exchange.add_marketsubscription")]

    @extend_schema(tags=TAG, summary="Stream these symbols' live prices to the dashboard",
                   request=s.SubscribeSerializer, responses={200: s.SubscriptionsSerializer, **ERRORS})
    def post(self, request):
        data = self.valid(s.SubscribeSerializer, request.data)
        with transaction.atomic():
            for symbol in data["symbols"]:
                MarketSubscription.objects.get_or_create(symbol=symbol)
        symbols = list(MarketSubscription.objects.values_list("symbol", flat=True))
        logger.info("market subscription: %s", ", ".join(data["symbols"]))
        return Response(s.SubscriptionsSerializer({"symbols": symbols}).data)
