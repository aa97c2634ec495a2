"""The pages (included at the site root by tradebot/urls.py)."""

from django.urls import path

from dashboard import (
    backtest_pages,
    budget,
    entry_pages,
    optimise_pages,
    order_form,
    strategy_pages,
    trade_pages,
    views,
)

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("cards/<slug:name>", views.card, name="card"),
    path("orders/new", order_form.place_order, name="dashboard-order"),
    path("entries/stop", entry_pages.stop_entries, name="entries-stop"),
    path("entries/allow", entry_pages.allow_entries, name="entries-allow"),
    path("strategies/budget", budget.strategy_budget, name="strategy-budget"),
    path("strategies/", strategy_pages.strategy_list, name="strategy-page"),
    path("strategies/new", strategy_pages.strategy_create, name="strategy-page-create"),
    path("strategies/parameters", strategy_pages.strategy_parameters, name="strategy-page-parameters"),
    path("strategies/<int:pk>/edit", strategy_pages.strategy_edit, name="strategy-page-edit"),
    path("strategies/<int:pk>/decisions", strategy_pages.strategy_decisions, name="strategy-page-decisions"),
    path("strategies/<int:pk>/activate", strategy_pages.strategy_switch, {"active": True},
         name="strategy-page-activate"),
    path("strategies/<int:pk>/deactivate", strategy_pages.strategy_switch, {"active": False},
         name="strategy-page-deactivate"),
    path("trades/", trade_pages.trade_list, name="trade-page"),
    path("trades/<int:pk>/close", trade_pages.close_trade, name="trade-page-close"),
    path("trades/<int:pk>/cancel", trade_pages.cancel_trade, name="trade-page-cancel"),
    path("backtests/", backtest_pages.backtest_list, name="backtest-page"),
    path("backtests/compare/", backtest_pages.backtest_compare, name="backtest-compare"),
    path("backtests/<int:pk>/", backtest_pages.backtest_detail, name="backtest-detail"),
    path("backtests/optimise/", optimise_pages.optimise_list, name="backtest-optimise"),
    path("backtests/optimise/<int:pk>/", optimise_pages.optimise_detail, name="backtest-optimise-detail"),
    path("backtests/optimise/<int:pk>/live", optimise_pages.optimise_live, name="backtest-optimise-live"),
    path("backtests/optimise/<int:pk>/apply", optimise_pages.optimise_apply, name="backtest-optimise-apply"),
]
