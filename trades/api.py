"""Trades API, exactly the seed's five endpoints (plus the decision log the dashboard shows)."""

from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.security import OrderEndpoint
from exchange.factory import get_exchange
from trades import commands, queries
from trades.filters import SymbolTradeFilterSet, TradeFilterSet
from trades.models import Trade
from trades.serializers import DecisionSerializer, StatsSerializer, TradeSerializer

CONFLICT = OpenApiResponse(description="The trade's status does not allow this; the message says why.")


class TradeList(generics.ListAPIView):
    # Filtered by the default DjangoFilterBackend through filterset_class, which the schema's parameters come from.
    queryset = Trade.objects.select_related("strategy")
    serializer_class = TradeSerializer
    filterset_class = TradeFilterSet

    @extend_schema(summary="List trades")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TradesBySymbol(TradeList):
    filterset_class = SymbolTradeFilterSet

    @extend_schema(summary="List the trades of one symbol")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        # The path's symbol is checked as the query's is: /api/trades/symbol/sol answers 400, not an empty list.
        by_symbol = TradeFilterSet({"symbol": self.kwargs["symbol"]}, super().get_queryset())
        if not by_symbol.is_valid():
            raise translate_validation(by_symbol.errors)
        return by_symbol.qs


class TradeStats(generics.GenericAPIView):
    queryset = Trade.objects.all()
    filterset_class = TradeFilterSet

    # filters=True: the schema lists a filter set's parameters on list answers only, and this one is a summary.
    @extend_schema(summary="Trading statistics over closed trades", filters=True, responses=StatsSerializer)
    def get(self, request):
        trades = self.filter_queryset(self.get_queryset())
        return Response(StatsSerializer(queries.stats(trades)).data)


class CloseTrade(OrderEndpoint, APIView):
    @extend_schema(summary="Close an open trade's position on the exchange", request=None,
                   responses={200: TradeSerializer, 409: CONFLICT, 502: OpenApiResponse(description="Exchange error"),
                              503: OpenApiResponse(description="The close never reached the exchange (sent twice): "
                                                               "the position is still open.")})
    def post(self, request, pk):
        result = commands.close_trade(request.user, int(pk), exchange=get_exchange())
        result.trade.refresh_from_db()
        return Response({**TradeSerializer(result.trade).data, "detail": result.detail})


class CancelTrade(OrderEndpoint, APIView):
    @extend_schema(summary="Cancel a pending trade", request=None,
                   responses={200: TradeSerializer, 409: CONFLICT, 502: OpenApiResponse(description="Exchange error")})
    def delete(self, request, pk):
        trade = commands.cancel_trade(request.user, int(pk), exchange=get_exchange())
        return Response(TradeSerializer(trade).data, status=status.HTTP_200_OK)


class LatestDecisions(APIView):
    @extend_schema(summary="The last decision for every strategy and symbol, with its reasons",
                   parameters=[OpenApiParameter("strategy", int)], responses=DecisionSerializer(many=True))
    def get(self, request):
        strategy = request.query_params.get("strategy")
        if strategy is not None and not strategy.isdigit():
            raise ValidationError({"strategy": "must be a strategy id (a whole number)."})
        decisions = queries.latest_decisions([int(strategy)] if strategy else None)
        return Response(DecisionSerializer(decisions, many=True).data)
