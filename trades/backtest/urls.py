from django.urls import re_path

from trades.backtest import api

urlpatterns = [
    re_path(r"^backtests/?$", api.BacktestList.as_view(), name="backtest-list"),
    re_path(r"^backtests/(?P<pk>[0-9]+)/?$", api.BacktestDetail.as_view(), name="backtest-api-detail"),
]
