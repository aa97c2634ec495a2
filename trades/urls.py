from django.urls import include, re_path

from trades import api

urlpatterns = [
    re_path(r"^trades/?$", api.TradeList.as_view(), name="trade-list"),
    re_path(r"^trades/stats/?$", api.TradeStats.as_view(), name="trade-stats"),
    re_path(r"^trades/decisions/?$", api.LatestDecisions.as_view(), name="trade-decisions"),
    re_path(r"^trades/symbol/(?P<symbol>[A-Za-z0-9]{1,30})/?$", api.TradesBySymbol.as_view(), name="trades-by-symbol"),
    re_path(r"^trades/(?P<pk>[0-9]+)/close/?$", api.CloseTrade.as_view(), name="trade-close"),
    re_path(r"^trades/(?P<pk>[0-9]+)/cancel/?$", api.CancelTrade.as_view(), name="trade-cancel"),
    re_path(r"^", include("trades.backtest.urls")),
]
