"""The dashboard's chart data and bot status as API endpoints: every figure the page draws, for scripts too.

- ``GET /api/chart/<symbol>?interval=5&limit=300&strategy=<id>``: candles, EMA / Bollinger / RSI / MACD
  series (the strategy's indicator periods, or the defaults) and entry/exit markers of the symbol's trades;
- ``GET /api/chart/equity``: the equity curve (cumulative realized PnL) and realized PnL per day;
- ``GET /api/bot/status``: running / paused / idle, the last cycle and its error.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import cards, chart_data
from dashboard.bybit_serializers import CandleSerializer, SymbolField, money
from exchange.factory import get_exchange
from market.candles import is_closed
from market.intervals import INTERVAL_MINUTES
from strategies.config import INDICATOR_PARAMS, validate_indicators
from strategies.models import Strategy
from strategies.rules import RULES as BUILT_IN_RULES
from trades.models import Trade, TradeStatus
from trades.queries import equity_curve

TAG = ["dashboard"]
MARKER_TRADES = 500


# Query ---------------------------------------------------------------------------------------------

class ChartQuerySerializer(serializers.Serializer):
    symbol = SymbolField()
    interval = serializers.ChoiceField(choices=list(INTERVAL_MINUTES), default="5", error_messages={
        "invalid_choice": f"interval must be one of {', '.join(INTERVAL_MINUTES)}"})
    limit = serializers.IntegerField(min_value=50, max_value=1000, default=300)
    strategy = serializers.PrimaryKeyRelatedField(
        queryset=Strategy.objects.all(), required=False,
        help_text="Draw the indicators with this strategy's periods (default: the documented defaults).",
        error_messages={"does_not_exist": "no strategy with id {pk_value}"})


# Answers -------------------------------------------------------------------------------------------

class CandlePointSerializer(CandleSerializer):
    """A candle as GET /api/bybit/kline/{symbol} answers it, with its open time in UNIX seconds (what the chart
    plots) instead of a date-time."""

    start = None
    time = serializers.IntegerField(help_text="Candle open time, UNIX seconds (UTC).")


class PointSerializer(serializers.Serializer):
    time = serializers.IntegerField(help_text="UNIX seconds (UTC).")
    value = serializers.FloatField()


class SeriesSerializer(serializers.Serializer):
    ema_short = PointSerializer(many=True)
    ema_long = PointSerializer(many=True)
    bb_upper = PointSerializer(many=True)
    bb_middle = PointSerializer(many=True)
    bb_lower = PointSerializer(many=True)
    rsi = PointSerializer(many=True)
    macd = PointSerializer(many=True)
    macd_signal = PointSerializer(many=True)
    macd_hist = PointSerializer(many=True)


class MarkerSerializer(serializers.Serializer):
    time = serializers.IntegerField(help_text="Open time of the candle the fill happened in, UNIX seconds.")
    trade = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["entry", "exit"])
    side = serializers.CharField(help_text="The trade's side, Buy or Sell (its entry order's).")
    price = money()
    pnl = money(allow_null=True, help_text="Realized PnL after fees, on exits.")
    text = serializers.CharField()


class ChartSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    interval = serializers.CharField()
    source = serializers.CharField(help_text='Where the prices come from, e.g. "Binance spot replay" in paper mode.')
    indicators = serializers.DictField(child=serializers.FloatField(), help_text="The indicator periods used.")
    candles = CandlePointSerializer(many=True)
    series = SeriesSerializer()
    markers = MarkerSerializer(many=True)


class EquityPointSerializer(serializers.Serializer):
    time = serializers.IntegerField(help_text="When the trade closed, UNIX seconds (the first point: when the "
                                              "first of them opened, before any PnL).")
    cumulative_pnl = money()
    equity = money(required=False, help_text="Starting equity + cumulative PnL (paper account only).")


class DailyPnlSerializer(serializers.Serializer):
    day = serializers.DateField(help_text="Calendar day in BOT_TIMEZONE.")
    pnl = money()
    trades = serializers.IntegerField()


class EquitySerializer(serializers.Serializer):
    starting_equity = money(allow_null=True)
    timezone = serializers.CharField()
    points = EquityPointSerializer(many=True)
    daily = DailyPnlSerializer(many=True)


class PausedStrategySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    until = serializers.DateTimeField()
    reason = serializers.CharField()


class BotStatusSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["running", "paused", "idle"])
    active_strategies = serializers.IntegerField()
    paused_strategies = PausedStrategySerializer(many=True)
    entries_stopped = serializers.CharField(allow_null=True, help_text="Why new entries are stopped bot-wide "
                                            "(/stopentry, POST /api/bot/entries), or null.")
    exchange_mode = serializers.CharField()
    last_cycle_at = serializers.DateTimeField(allow_null=True)
    last_cycle_status = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    cycle_overdue = serializers.BooleanField(help_text="Strategies are active but no cycle ran for 3 minutes.")
    price_source = serializers.CharField()


# Views ---------------------------------------------------------------------------------------------

class ChartView(APIView):
    @extend_schema(
        tags=TAG, summary="Candles with indicator series and trade markers, for the price chart",
        parameters=[
            OpenApiParameter("symbol", str, OpenApiParameter.PATH, description="e.g. BTCUSDT"),
            OpenApiParameter("interval", str, enum=list(INTERVAL_MINUTES), default="5"),
            OpenApiParameter("limit", int, description="Candles, 50 to 1000", default=300),
            OpenApiParameter("strategy", int, description="Use this strategy's indicator periods"),
        ],
        responses={200: ChartSerializer, 400: OpenApiResponse(description="A bad parameter, named with the reason."),
                   502: OpenApiResponse(description="The exchange did not answer.")})
    def get(self, request, symbol):
        exchange = get_exchange()
        query = ChartQuerySerializer(data={**request.query_params.dict(), "symbol": symbol},
                                     context={"exchange": exchange})
        query.is_valid(raise_exception=True)
        symbol, interval = query.validated_data["symbol"], query.validated_data["interval"]
        strategy = query.validated_data.get("strategy")
        # The chart draws the built-ins' indicators: a strategy of another class gets them at their defaults.
        config = validate_indicators(strategy.indicators if strategy and strategy.type in BUILT_IN_RULES else {})
        candles = exchange.get_klines(symbol, interval, query.validated_data["limit"])
        now = exchange.server_time()
        starts = [candle.start for candle in candles]
        # Markers outside the candles shown are dropped; the newest trades are the ones that can be on screen.
        trades = (Trade.objects.filter(symbol=symbol, status__in=[TradeStatus.OPEN, TradeStatus.CLOSED])
                  .order_by("-created_at")[:MARKER_TRADES])
        return Response(ChartSerializer({
            "symbol": symbol, "interval": interval, "source": cards.price_source(),
            "indicators": {name: config[name] for name in INDICATOR_PARAMS},
            "candles": [{**vars(candle), "time": chart_data.epoch_seconds(candle.start),
                         "closed": is_closed(candle, interval, now)} for candle in candles],
            "series": chart_data.indicator_series(candles, config),
            "markers": chart_data.trade_markers(trades, starts, to_market=chart_data.market_clock(
                getattr(exchange, "market_data", None))),
        }).data)


class EquityView(APIView):
    @extend_schema(tags=TAG, summary="Equity curve and realized PnL per day, from closed trades",
                   responses=EquitySerializer)
    def get(self, request):
        start = cards.equity_start()
        closed = Trade.objects.closed()
        first = closed.order_by("created_at").values_list("executed_at", "created_at").first()
        return Response(EquitySerializer({
            "starting_equity": start, "timezone": settings.BOT_TIMEZONE,
            "points": chart_data.equity_points(equity_curve(start), opened_at=first and (first[0] or first[1]),
                                               starting_equity=start),
            "daily": chart_data.daily_pnl(closed.values_list("closed_at", "realized_pnl"),
                                          zoneinfo.ZoneInfo(settings.BOT_TIMEZONE)),
        }).data)


class BotStatusView(APIView):
    @extend_schema(tags=TAG, summary="What the bot is doing: running, paused or idle, and its last cycle",
                   responses=BotStatusSerializer)
    def get(self, request):
        context = cards.current_status()
        return Response(BotStatusSerializer({**context["status"], "cycle_overdue": context["overdue"],
                                             "price_source": cards.price_source()}).data)
