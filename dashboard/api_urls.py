"""The dashboard's JSON (included at api/ by tradebot/urls.py): the API root, the seed's /api/bybit/... front end,
the charts and the bot's status. Each path with an optional trailing slash, as the seed's clients send both."""

from django.urls import include, path, re_path

from dashboard import bybit_api as bybit
from dashboard import chart_api, entries_api
from dashboard.api_root import ApiRoot

urlpatterns = [
    path("", ApiRoot.as_view(), name="api-root"),
    re_path(r"^bybit/balance/?$", bybit.BalanceView.as_view(), name="bybit-balance"),
    re_path(r"^bybit/positions/?$", bybit.PositionsView.as_view(), name="bybit-positions"),
    re_path(r"^bybit/orders/?$", bybit.OrdersView.as_view(), name="bybit-orders"),
    re_path(r"^bybit/history/?$", bybit.OrderHistoryView.as_view(), name="bybit-history"),
    re_path(r"^bybit/kline/(?P<symbol>[^/]+)/?$", bybit.KlineView.as_view(), name="bybit-kline"),
    re_path(r"^bybit/price/(?P<symbol>[^/]+)/?$", bybit.PriceView.as_view(), name="bybit-price"),
    re_path(r"^bybit/order/?$", bybit.PlaceOrderView.as_view(), name="bybit-order"),
    re_path(r"^bybit/order/(?P<order_id>[^/]+)/?$", bybit.CancelOrderView.as_view(), name="bybit-cancel-order"),
    re_path(r"^bybit/leverage/?$", bybit.LeverageView.as_view(), name="bybit-leverage"),
    re_path(r"^bybit/stop-loss/?$", bybit.TradingStopView.as_view(), name="bybit-stop-loss"),
    re_path(r"^bybit/close-position/?$", bybit.ClosePositionView.as_view(), name="bybit-close-position"),
    re_path(r"^bybit/subscribe/?$", bybit.SubscribeView.as_view(), name="bybit-subscribe"),
    re_path(r"^chart/equity/?$", chart_api.EquityView.as_view(), name="chart-equity"),
    re_path(r"^chart/(?P<symbol>[^/]+)/?$", chart_api.ChartView.as_view(), name="chart"),
    re_path(r"^bot/status/?$", chart_api.BotStatusView.as_view(), name="bot-status"),
    re_path(r"^", include("trades.optimise.urls")),  # /api/optimisations...
    re_path(r"^bot/entries/?$", entries_api.EntriesView.as_view(), name="bot-entries"),
]
