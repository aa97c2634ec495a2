from django.urls import re_path

from exchange import api

# Included at api/ by tradebot/urls.py: the seed's paths, each with an optional trailing slash.
urlpatterns = [
    re_path(r"^bybit/balance/?$", api.BalanceView.as_view(), name="bybit-balance"),
    re_path(r"^bybit/positions/?$", api.PositionsView.as_view(), name="bybit-positions"),
    re_path(r"^bybit/orders/?$", api.OrdersView.as_view(), name="bybit-orders"),
    re_path(r"^bybit/history/?$", api.OrderHistoryView.as_view(), name="bybit-history"),
    re_path(r"^bybit/kline/(?P<symbol>[^/]+)/?$", api.KlineView.as_view(), name="bybit-kline"),
    re_path(r"^bybit/price/(?P<symbol>[^/]+)/?$", api.PriceView.as_view(), name="bybit-price"),
    re_path(r"^bybit/order/?$", api.PlaceOrderView.as_view(), name="bybit-order"),
    re_path(r"^bybit/order/(?P<order_id>[^/]+)/?$", api.CancelOrderView.as_view(), name="bybit-cancel-order"),
    re_path(r"^bybit/leverage/?$", api.LeverageView.as_view(), name="bybit-leverage"),
    re_path(r"^bybit/stop-loss/?$", api.TradingStopView.as_view(), name="bybit-stop-loss"),
    re_path(r"^bybit/close-position/?$", api.ClosePositionView.as_view(), name="bybit-close-position"),
    re_path(r"^bybit/subscribe/?$", api.SubscribeView.as_view(), name="bybit-subscribe"),
]
