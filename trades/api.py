"""Trades API, exactly the seed's five endpoints (plus the decision log the dashboard shows)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.security import OrderEndpoint
from exchange.factory import get_exchange
from trades import commands, queries
from trades.models import Trade
from trades.serializers import DecisionSerializer, StatsSerializer, TradeFilterSerializer, TradeSerializer

FILTER_PARAMETERS = [
    OpenApiParameter("symbol", str, description="e.g. BTCUSDT"),
    OpenApiParameter("status", str, enum=[value for value, _ in Trade._meta.get_field("status").choices]),
    OpenApiParameter("strategy", int, description="strategy id"),
    OpenApiParameter("since", str, description="created at or after (ISO 8601)"),
    OpenApiParameter("until", str, description="created before (ISO 8601)"),
]
CONFLICT = OpenApiResponse(description="The trade's status does not allow this; the message says why.")


def _filters(query_params) -> dict:
    serializer = TradeFilterSerializer(data=query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TradeList(generics.ListAPIView):
    serializer_class = TradeSerializer
    filter_backends = []

    @extend_schema(summary="List trades", parameters=FILTER_PARAMETERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return queries.filtered_trades(**_filters(self.request.query_params))


class TradesBySymbol(generics.ListAPIView):
    serializer_class = TradeSerializer
    filter_backends = []

    @extend_schema(summary="List the trades of one symbol")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = _filters({**self.request.query_params.dict(), "symbol": self.kwargs["symbol"]})
        return queries.filtered_trades(**filters)


class TradeStats(APIView):
    @extend_schema(summary="Trading statistics over closed trades", parameters=FILTER_PARAMETERS,
                   responses=StatsSerializer)
    def get(self, request):
        trades = queries.filtered_trades(**_filters(request.query_params))
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
