"""The strategy form of the dashboard: the model's own validation, field by field.

Every field check is the model's (its validators, ``clean`` and constraints, run by the ModelForm's
``full_clean``), as in the admin and the API. Indicator periods get one input each instead of a JSON
box; together they go through ``strategies.config.validate_indicators``, and each of its messages is
shown beside the setting it names.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from strategies.config import INDICATOR_PARAMS, validate_indicators
from strategies.models import Strategy


class SymbolsField(forms.CharField):
    """Symbols typed as "BTCUSDT, ETHUSDT" and stored as a JSON list."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value)
        return [part.strip().upper() for part in text.replace("\n", ",").split(",") if part.strip()]


INDICATOR_PREFIX = "ind_"


class StrategyForm(forms.ModelForm):
    symbols = SymbolsField(help_text="Comma-separated USDT perpetuals, e.g. BTCUSDT, ETHUSDT.")

    class Meta:
        model = Strategy
        fields = ["name", "type", "symbols", "timeframe", "confirm_timeframe", "risk_percentage", "max_positions",
                  "stop_loss_percentage", "take_profit_percentage", "leverage", "max_daily_loss_percentage",
                  "use_ai_confirmation", "min_ai_confidence"]
        labels = {"risk_percentage": "Risk per trade (%)", "stop_loss_percentage": "Stop-loss (%)",
                  "take_profit_percentage": "Take-profit (%)", "max_daily_loss_percentage": "Daily loss limit (%)",
                  "use_ai_confirmation": "Ask the AI to confirm each entry",
                  "min_ai_confidence": "Minimum AI confidence (0-100)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["confirm_timeframe"].choices = [("", "none"), *self.fields["timeframe"].choices]
        saved = self.instance.indicators or {}
        for name, param in INDICATOR_PARAMS.items():
            self.fields[INDICATOR_PREFIX + name] = forms.FloatField(
                label=name, required=False, initial=saved.get(name), help_text=param.help,
                widget=forms.NumberInput(attrs={"placeholder": f"{param.default:g}", "step": "any"}))

    def indicator_fields(self):
        return [self[INDICATOR_PREFIX + name] for name in INDICATOR_PARAMS]

    def main_fields(self):
        return [self[name] for name in self.Meta.fields]

    def clean(self):
        cleaned = super().clean()
        chosen = {}
        for name in INDICATOR_PARAMS:
            value = cleaned.get(INDICATOR_PREFIX + name)
            if value is not None:
                chosen[name] = int(value) if float(value).is_integer() else value
        try:
            validate_indicators(chosen)
        except ValidationError as error:
            for message in error.messages:
                named = message.split(" ", 1)[0].strip("'\"(,.:")
                self.add_error(INDICATOR_PREFIX + named if named in INDICATOR_PARAMS else None, message)
        # Only the settings typed in are stored: the others keep following the documented defaults.
        self.instance.indicators = chosen
        return cleaned
