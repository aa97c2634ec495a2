from django.contrib import admin

from core.admin import ReadOnlyAdmin
from trades.backtest import admin as _backtest_admin  # noqa: F401  (registers BacktestRun)
from trades.models import CycleRun, Trade


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "strategy", "symbol", "side", "quantity", "price", "status", "exit_price",
                    "realized_pnl", "order_link_id")
    list_filter = ("status", "side", "strategy", "symbol")
    search_fields = ("symbol", "order_id", "order_link_id")
    date_hierarchy = "created_at"


@admin.register(CycleRun)
class CycleRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "started_at", "finished_at", "trigger", "status", "pairs", "orders", "error")
    list_filter = ("status", "trigger")
