from django import forms
from django.contrib import admin, messages

from strategies.config import INDICATOR_PARAMS
from strategies.forms import SymbolsField
from strategies.models import Strategy
from strategies.services import set_active


class StrategyAdminForm(forms.ModelForm):
    symbols = SymbolsField(help_text="Comma-separated USDT perpetuals, e.g. BTCUSDT, ETHUSDT.")

    class Meta:
        model = Strategy
        fields = "__all__"
        help_texts = {
            "indicators": "JSON object; missing keys take their defaults: "
            + ", ".join(f"{name}={param.default}" for name, param in INDICATOR_PARAMS.items()),
        }


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    form = StrategyAdminForm
    list_display = ("name", "type", "is_active", "symbol_list", "timeframe", "risk_percentage", "max_positions",
                    "stop_loss_percentage", "take_profit_percentage", "use_ai_confirmation", "updated_at")
    list_filter = ("type", "is_active", "use_ai_confirmation", "timeframe")
    search_fields = ("name",)
    actions = ("activate", "deactivate")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "type", "is_active", "symbols", "timeframe", "confirm_timeframe")}),
        ("Risk", {"fields": ("risk_percentage", "max_positions", "stop_loss_percentage", "take_profit_percentage",
                             "leverage", "max_daily_loss_percentage", "paused_until", "pause_reason")}),
        ("AI confirmation", {"fields": ("use_ai_confirmation", "min_ai_confidence")}),
        ("Indicators", {"fields": ("indicators",)}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="symbols")
    def symbol_list(self, strategy):
        return ", ".join(strategy.symbols)

    @admin.action(description="Activate selected strategies")
    def activate(self, request, queryset):
        count = sum(set_active(strategy, True, by=request.user.get_username()) for strategy in queryset)
        self.message_user(request, f"{count} strategies activated; they trade from the next cycle.", messages.SUCCESS)

    @admin.action(description="Deactivate selected strategies")
    def deactivate(self, request, queryset):
        count = sum(set_active(strategy, False, by=request.user.get_username()) for strategy in queryset)
        self.message_user(request, f"{count} strategies deactivated; open positions are kept.", messages.SUCCESS)
