"""Backtest runs in the admin, read-only: they are results, made by ``manage.py backtest`` or the page.

Importing this module registers it; ``trades.admin`` (the module Django discovers) imports it.
"""

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from trades.backtest.models import BacktestRun


class BacktestRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "name", "symbol", "timeframe", "start", "end", "status", "total_return_pct",
                    "trades_count", "final_equity", "code_version")
    list_filter = ("status", "symbol", "timeframe", "strategy")
    search_fields = ("name", "symbol", "data_checksum", "code_version")
    date_hierarchy = "created_at"
    exclude = ("equity_curve", "chart")  # thousands of points: the Backtests page draws them


def register(site: admin.AdminSite = admin.site) -> None:
    if not site.is_registered(BacktestRun):
        site.register(BacktestRun, BacktestRunAdmin)


register()
