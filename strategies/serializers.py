import copy

from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from strategies.catalogue import exit_defaults
from strategies.models import TIMEFRAME_CHOICES, Strategy
from strategies.sdk.parameters import ParameterError

TIMEFRAMES = ", ".join(value for value, _ in TIMEFRAME_CHOICES)


@extend_schema_field({"type": "string", "enum": ["", *(value for value, _ in TIMEFRAME_CHOICES)]})
class ConfirmTimeframeField(serializers.ChoiceField):
    """The same choices as ``timeframe`` plus "": described inline, because drf-spectacular warns when one
    choice set gets two component names (TimeframeEnum, ConfirmTimeframeEnum)."""


class StrategySerializer(serializers.ModelSerializer):
    """A strategy as the API reads and writes it.

    Field checks are the model's own validators (the admin's and, underneath, the database's
    constraints); ``validate`` then runs the model's ``full_clean`` on the would-be result, so
    rules that span fields (a confirmation timeframe longer than the timeframe) hold for PATCH too.
    """

    confirm_timeframe = ConfirmTimeframeField(
        choices=[("", "none"), *TIMEFRAME_CHOICES], required=False, allow_blank=True,
        help_text="Optional higher timeframe whose trend must agree before entering; \"\" for none.",
        error_messages={"invalid_choice": f'"{{input}}" is not a Bybit kline interval; use one of {TIMEFRAMES}, '
                                          f'or "" for none.'})
    activated_by = serializers.SlugRelatedField(
        slug_field=get_user_model().USERNAME_FIELD, read_only=True,
        help_text="Who last activated it: the cycle trades it while they may trade (null: activated before this was "
                  "recorded; such a strategy trades on paper only).")
    # Not the model field's validator (the built-ins' settings only): ``validate`` checks the values against the
    # chosen class's declared parameters (Strategy.clean).
    indicators = serializers.JSONField(
        required=False, help_text="The class's parameter values (GET /api/strategies/classes lists them); missing "
                                  "ones take their defaults.")
    parameters = serializers.SerializerMethodField(
        help_text="The parameter values in force: the strategy's own with every default filled in (null when its "
                  "class is missing or no longer accepts them).")
    indicator_config = serializers.SerializerMethodField(help_text="The same as parameters (its older name).")

    class Meta:
        model = Strategy
        fields = ["id", "name", "type", "is_active", "symbols", "timeframe", "confirm_timeframe", "risk_percentage",
                  "max_positions", "stop_loss_percentage", "take_profit_percentage", "leverage",
                  "max_daily_loss_percentage", "trailing_stop_percentage", "trailing_activation_percentage",
                  "exit_after_candles", "take_profit_targets", "use_ai_confirmation", "min_ai_confidence", "indicators",
                  "parameters", "indicator_config", "paused_until", "pause_reason", "activated_by", "created_at",
                  "updated_at"]
        read_only_fields = ["id", "paused_until", "pause_reason", "activated_by", "created_at", "updated_at"]
        extra_kwargs = {
            "symbols": {"required": True},
            "timeframe": {"error_messages": {
                "invalid_choice": f'"{{input}}" is not a Bybit kline interval; use one of {TIMEFRAMES}.'}},
        }

    def get_parameters(self, strategy) -> dict | None:
        try:
            return strategy.parameters
        except (ParameterError, DjangoValidationError):
            return None

    def get_indicator_config(self, strategy) -> dict | None:
        return self.get_parameters(strategy)

    def validate(self, attrs):
        if self.instance is None and attrs.get("type"):
            # A new strategy starts from its class's exit settings where the body says nothing (docs/strategies.md).
            omitted = {name: value for name, value in exit_defaults(attrs["type"]).items() if name not in attrs}
            attrs = {**omitted, **attrs}
        candidate = copy.copy(self.instance) if self.instance else Strategy()
        for name, value in attrs.items():
            setattr(candidate, name, value)
        try:
            candidate.full_clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                {("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
                 for field, messages in error.message_dict.items()}) from None
        return attrs
