import json

from django import forms
from django.contrib import admin, messages

from strategies.catalogue import catalogue, exit_defaults, strategy_class
from strategies.checks import activation_refusal as activation_check_refusal
from strategies.forms import SymbolsField, parameter_help
from strategies.models import Strategy
from strategies.services import change_refusal, set_active


def parameters_help(key: str) -> str:
    """The declared parameters of class ``key`` with their ranges and defaults, for the indicators field."""
    cls = strategy_class(key)
    if cls is None:
        return (f"The class {key!r} is not loaded: its parameters are unknown. Known classes: "
                f"{', '.join(catalogue().keys())}.")
    declared = cls.declared_parameters()
    if not declared:
        return f"JSON object; {key} declares no parameters: leave it {{}}."
    return (f"JSON object of {key}'s parameters; missing ones take their defaults. "
            + " ".join(f"{name}: {parameter_help(parameter)}" for name, parameter in declared.items()))


class StrategyAdminForm(forms.ModelForm):
    symbols = SymbolsField(help_text="Comma-separated USDT perpetuals, e.g. BTCUSDT, ETHUSDT.")
    user = None  # who is saving: StrategyAdmin.get_form sets it

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "type" in self.fields:  # a choice among the classes loaded (one whose file is gone stays listed)
            keys = catalogue().keys() + ([self.instance.type] if self.instance.type not in catalogue().keys()
                                         and self.instance.type else [])
            self.fields["type"] = forms.ChoiceField(choices=[(key, key) for key in keys],
                                                    help_text=Strategy._meta.get_field("type").help_text)
        if "indicators" in self.fields:
            chosen = (self.data.get(self.add_prefix("type")) if self.is_bound else None) or self.instance.type
            self.fields["indicators"].help_text = (parameters_help(chosen) if chosen else
                                                   "JSON object of the chosen class's parameters (save once with "
                                                   "the type chosen to see them listed here).")

    def clean(self):
        cleaned = super().clean()
        active_after = cleaned.get("is_active", self.instance.is_active)
        refusal = change_refusal(self.user, active_after=active_after)
        if refusal:
            raise forms.ValidationError(refusal)
        if active_after and not self.errors and self._starts_new_rules(cleaned):
            failed = activation_check_refusal(cleaned.get("type", self.instance.type),
                                              cleaned.get("indicators", self.instance.indicators))
            if failed:
                raise forms.ValidationError(failed)
        return cleaned

    def _starts_new_rules(self, cleaned) -> bool:
        """Whether this save lets rules trade that were not trading: it activates the strategy, or changes an
        active one's class or parameters (the look-ahead check runs then, as for the API and the switch)."""
        instance = self.instance
        if instance.pk is None or not instance.is_active:
            return True
        return (cleaned.get("type", instance.type), cleaned.get("indicators", instance.indicators)) != \
            (instance.type, instance.indicators)

    class Meta:
        model = Strategy
        fields = "__all__"


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    form = StrategyAdminForm
    list_display = ("name", "type", "is_active", "symbol_list", "timeframe", "risk_percentage", "max_positions",
                    "stop_loss_percentage", "take_profit_percentage", "use_ai_confirmation", "updated_at")
    list_filter = ("type", "is_active", "use_ai_confirmation", "timeframe")
    search_fields = ("name",)
    actions = ("activate", "deactivate")
    readonly_fields = ("activated_by", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "type", "is_active", "activated_by", "symbols", "timeframe",
                           "confirm_timeframe")}),
        ("Risk", {"fields": ("risk_percentage", "max_positions", "stop_loss_percentage", "take_profit_percentage",
                             "leverage", "max_daily_loss_percentage", "paused_until", "pause_reason")}),
        ("Exits beyond the stop and target", {"fields": ("trailing_stop_percentage", "trailing_activation_percentage",
                                                       "exit_after_candles", "take_profit_targets")}),
        ("AI confirmation", {"fields": ("use_ai_confirmation", "min_ai_confidence")}),
        ("Indicators", {"fields": ("indicators",)}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def get_changeform_initial_data(self, request):
        """``?type=KEY`` on the add page starts the form from that class's exit settings."""
        initial = super().get_changeform_initial_data(request)
        defaults = exit_defaults(initial.get("type", ""))
        if defaults:
            defaults["take_profit_targets"] = json.dumps(defaults["take_profit_targets"])
        return {**{name: value for name, value in defaults.items() if value is not None}, **initial}

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def save_model(self, request, obj, form, change):
        if obj.is_active and not form.initial.get("is_active", False):  # this save activates it
            obj.activated_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="symbols")
    def symbol_list(self, strategy):
        return ", ".join(strategy.symbols)

    @admin.action(description="Activate selected strategies", permissions=["change"])
    def activate(self, request, queryset):
        refusal = change_refusal(request.user, active_after=True)
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            return
        refused = {strategy.name: activation_check_refusal(strategy.type, strategy.indicators) for strategy in queryset}
        for name, reason in refused.items():
            if reason:
                self.message_user(request, f"{name}: {reason}", messages.ERROR)
        count = sum(set_active(strategy, True, by=request.user) for strategy in queryset if not refused[strategy.name])
        self.message_user(request, f"{count} strategies activated; they trade from the next cycle.",
                          messages.SUCCESS if count or not any(refused.values()) else messages.WARNING)

    @admin.action(description="Deactivate selected strategies", permissions=["change"])
    def deactivate(self, request, queryset):
        count = sum(set_active(strategy, False, by=request.user) for strategy in queryset)
        self.message_user(request, f"{count} strategies deactivated; open positions are kept.", messages.SUCCESS)
