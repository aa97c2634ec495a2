from django.contrib import admin

from ai.models import AICall
from core.admin import ReadOnlyAdmin


@admin.register(AICall)
class AICallAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "strategy", "symbol", "timeframe", "candle_time", "status", "action", "confidence",
                    "latency_ms", "prompt_tokens", "completion_tokens", "cost_usd")
    list_filter = ("status", "action", "model", "strategy")
    search_fields = ("symbol", "reasoning", "error")
    date_hierarchy = "created_at"
