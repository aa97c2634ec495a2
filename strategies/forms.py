"""The strategy form of the dashboard: the model's own validation, field by field.

Every field check is the model's (its validators, ``clean`` and constraints, run by the ModelForm's
``full_clean``), as in the admin and the API. The type is a choice among the catalogue's classes, and the
chosen class's declared parameters (``strategies.sdk.parameters``) get one input each instead of a JSON box,
built from their declarations: a number, a choice or yes/no, with the range and the default. Together they go
through the class's own check (``Strategy.clean``), and each of its messages is shown beside the parameter it
names.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from strategies.catalogue import catalogue, strategy_class
from strategies.models import Strategy
from strategies.sdk.parameters import BooleanParameter, CategoricalParameter, DecimalParameter, IntParameter, Parameter


class SymbolsField(forms.CharField):
    """Symbols typed as "BTCUSDT, ETHUSDT" and stored as a JSON list."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value)
        return [part.strip().upper() for part in text.replace("\n", ",").split(",") if part.strip()]


INDICATOR_PREFIX = "ind_"
DEFAULT_TYPE = "scalping"  # what a new strategy's form starts with


def type_choices() -> list[tuple[str, str]]:
    found = catalogue()
    return [(key, f"{key}: {found.classes[key].summary()}" if found.classes[key].summary() else key)
            for key in found.keys()]


def parameter_help(parameter: Parameter) -> str:
    """The declaration in words: its help, its range or choices, its default."""
    if isinstance(parameter, (IntParameter, DecimalParameter)):
        allowed = f"{parameter.low:g} to {parameter.high:g}"
    elif isinstance(parameter, CategoricalParameter):
        allowed = "one of " + ", ".join(map(str, parameter.choices))
    else:
        allowed = "yes or no"
    return " ".join(part for part in (parameter.help, f"{allowed}; default {_shown(parameter.default)}.") if part)


def parameter_field(parameter: Parameter, saved) -> forms.Field:
    """An input for one declared parameter; empty means "the default" (only typed values are stored)."""
    options = {"label": parameter.name, "required": False, "help_text": parameter_help(parameter),
               "initial": saved}
    if isinstance(parameter, CategoricalParameter):
        choices = [("", f"default ({_shown(parameter.default)})"), *((str(c), str(c)) for c in parameter.choices)]
        return forms.ChoiceField(choices=choices, **{**options, "initial": None if saved is None else str(saved)})
    if isinstance(parameter, BooleanParameter):
        choices = [("", f"default ({_shown(parameter.default)})"), ("true", "yes"), ("false", "no")]
        initial = None if saved is None else ("true" if saved else "false")
        return forms.ChoiceField(choices=choices, **{**options, "initial": initial})
    # A number as typed (not IntegerField): the class's own check names the parameter and its range.
    return forms.FloatField(widget=forms.NumberInput(attrs={"placeholder": _shown(parameter.default), "step": "any"}),
                            **options)


def typed_value(parameter: Parameter, value):
    """A cleaned input as the stored JSON value, or None when left empty."""
    if value in (None, ""):
        return None
    if isinstance(parameter, BooleanParameter):
        return value == "true"
    if isinstance(parameter, CategoricalParameter):
        return next((choice for choice in parameter.choices if str(choice) == value), value)
    return int(value) if float(value).is_integer() else value


def _shown(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


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
        choices = type_choices()
        if self.instance.type and self.instance.type not in dict(choices):  # its class is gone: say so, keep it
            choices.append((self.instance.type, f"{self.instance.type} (class not loaded)"))
        self.fields["type"] = forms.ChoiceField(choices=choices, initial=self.instance.type or DEFAULT_TYPE,
                                                help_text="The strategy class: a built-in or one in STRATEGY_DIRS.")
        self.strategy_type = self.chosen_type()
        cls = strategy_class(self.strategy_type)
        self.parameters = cls.declared_parameters() if cls else {}
        # Values saved for another class mean nothing to this one: the fields start empty then.
        saved = (self.instance.indicators or {}) if self.strategy_type == self.instance.type else {}
        for name, parameter in self.parameters.items():
            self.fields[INDICATOR_PREFIX + name] = parameter_field(parameter, saved.get(name))

    def chosen_type(self) -> str:
        if self.is_bound:
            return self.data.get(self.add_prefix("type")) or ""
        return self.initial.get("type") or self.instance.type or DEFAULT_TYPE

    @property
    def parameters_missing(self) -> bool:
        return strategy_class(self.strategy_type) is None

    def indicator_fields(self):
        return [self[INDICATOR_PREFIX + name] for name in self.parameters]

    def main_fields(self):
        return [self[name] for name in self.Meta.fields]

    def clean(self):
        cleaned = super().clean()
        chosen = {}
        for name, parameter in self.parameters.items():
            value = typed_value(parameter, cleaned.get(INDICATOR_PREFIX + name))
            if value is not None:
                chosen[name] = value
        # Only the settings typed in are stored: the others keep following the class's defaults. The model's
        # clean checks them against the class (its messages come back through _update_errors).
        self.instance.indicators = chosen
        return cleaned

    def _update_errors(self, errors: ValidationError) -> None:
        """The model's messages about ``indicators``, each beside the parameter it names (first word)."""
        if hasattr(errors, "error_dict") and "indicators" in errors.error_dict:
            for error in errors.error_dict.pop("indicators"):
                for message in error.messages:
                    named = message.split(" ", 1)[0].strip("'\"(,.:")
                    self.add_error(INDICATOR_PREFIX + named if named in self.parameters else None, message)
            if not errors.error_dict:
                return
        super()._update_errors(errors)
