import re
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from market.instruments import replay_symbols
from market.intervals import INTERVAL_LABELS, INTERVAL_MINUTES
from strategies.catalogue import known_types, strategy_class
from strategies.config import stop_loss_problem, validate_indicators, validate_take_profit_targets
from strategies.sdk.parameters import ParameterError

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,25}USDT$")
TIMEFRAME_CHOICES = list(INTERVAL_LABELS.items())


def validate_symbols(value):
    if not isinstance(value, list) or not value:
        raise ValidationError('Symbols must be a non-empty list such as ["BTCUSDT", "ETHUSDT"].')
    bad = [symbol for symbol in value if not isinstance(symbol, str) or not SYMBOL_PATTERN.match(symbol)]
    if bad:
        raise ValidationError(
            f"{', '.join(map(repr, bad))}: a symbol is a USDT perpetual in capitals, such as BTCUSDT.")
    if len(set(value)) != len(value):
        raise ValidationError("Each symbol may appear only once.")
    if len(value) > 50:
        raise ValidationError("At most 50 symbols per strategy.")
    unservable = [symbol for symbol in value if symbol not in servable_symbols()] if servable_symbols() else []
    if unservable:
        raise ValidationError(
            f"{', '.join(unservable)}: not in the bundled replay data, which has {', '.join(servable_symbols())}. "
            f"Paper trading on replay (MARKET_DATA=replay) can only trade those; set MARKET_DATA=bybit to paper-trade "
            f"other symbols on Bybit's live prices.")


def servable_symbols() -> list[str]:
    """The symbols the configured market data can serve, or [] when any listed USDT perpetual will do (Bybit's own
    prices: an unknown symbol is then refused by the exchange, and a cycle that fails on it says so)."""
    if settings.EXCHANGE_MODE == "paper" and settings.MARKET_DATA == "replay":
        return replay_symbols(settings.CANDLE_DATA_DIR)
    return []


def _each_problem(strategy_class, values) -> list[str]:
    """One message per declared parameter whose value is refused, so each can be shown beside its input; empty
    when the problem is elsewhere (an unknown name, a rule across parameters): the class's whole message says it."""
    if not isinstance(values, dict):
        return []
    declared = strategy_class.declared_parameters()
    if set(values) - set(declared):
        return []
    problems = []
    for name, value in values.items():
        try:
            declared[name].clean(value)
        except ParameterError as error:
            problems.append(str(error))
    return problems


class StrategyType(models.TextChoices):
    """The two built-in classes' keys (``strategies.builtin``); any class in STRATEGY_DIRS is a type too."""

    SCALPING = "scalping", "Scalping"
    TREND_FOLLOWING = "trend_following", "Trend following"


def validate_strategy_type(value):
    if value not in known_types():
        raise ValidationError(f'"{value}" is not a strategy type; use one of {", ".join(known_types())}.')


def _percent(maximum, *, allow_zero=False):
    minimum = MinValueValidator(Decimal("0")) if allow_zero else MinValueValidator(Decimal("0.01"))
    return [minimum, MaxValueValidator(Decimal(maximum))]


class StrategyQuerySet(models.QuerySet):
    def paused(self, now: datetime):
        """Paused at ``now``: the one spelling of the rule, with ``Strategy.is_paused``."""
        return self.filter(paused_until__gt=now)


class Strategy(models.Model):
    # A person's pause without an end (``strategies.services.pause``): lifted by resuming.
    PAUSED_INDEFINITELY = datetime(9999, 12, 31, tzinfo=UTC)

    name = models.CharField(max_length=255, unique=True)
    # The strategy class (``strategies.sdk``): a built-in's name or a class in STRATEGY_DIRS. Checked against the
    # classes loaded when saved (``clean``), not by the database: a class file can come and go.
    type = models.CharField(max_length=100, validators=[validate_strategy_type],
                            help_text="The strategy class: a built-in or one in STRATEGY_DIRS.")
    is_active = models.BooleanField(default=False, db_index=True)
    symbols = models.JSONField(default=list, validators=[validate_symbols],
                               help_text='USDT perpetuals to trade, e.g. ["BTCUSDT", "ETHUSDT"].')
    timeframe = models.CharField(max_length=10, choices=TIMEFRAME_CHOICES, default="5",
                                 help_text="Candle interval the signals are computed on.")
    confirm_timeframe = models.CharField(
        max_length=10, choices=TIMEFRAME_CHOICES, blank=True, default="",
        help_text="Optional higher timeframe whose trend must agree before entering.")
    risk_percentage = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("1.00"), validators=_percent(100),
        help_text="Share of equity lost if the stop-loss is hit (more than 0, at most 100).")
    max_positions = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Most open trades this strategy may hold at once (1 or more).")
    stop_loss_percentage = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("1.00"), validators=_percent(Decimal("99.99")),
        help_text="Stop-loss distance from entry, in percent (more than 0, below 100).")
    take_profit_percentage = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("2.00"), validators=_percent(Decimal("999.99")),
        help_text="Take-profit distance from entry, in percent (more than 0).")
    leverage = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("100"))],
        help_text="Leverage set on the exchange before entering (1 to 100).")
    max_daily_loss_percentage = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, validators=_percent(100),
        help_text="Pause the strategy for the rest of the day once its realized loss reaches this share of "
                  "equity. Empty: no limit.")
    trailing_stop_percentage = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, validators=_percent(Decimal("99.99")),
        help_text="Trail the stop this far behind the best price reached, in percent. Empty: a fixed stop.")
    trailing_activation_percentage = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True, validators=_percent(Decimal("999.99"), allow_zero=True),
        help_text="Start trailing once the profit reaches this, in percent (0 or empty: from the entry).")
    exit_after_candles = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(10000)],
        help_text="Close a trade after this many candles of the strategy's timeframe. Empty: no time exit.")
    take_profit_targets = models.JSONField(
        default=list, blank=True, validators=[validate_take_profit_targets],
        help_text='Partial take-profits: up to three {"percent": 1.5, "share": 0.5} targets, shares adding up to at '
                  'most 1. Empty: the one take-profit above.')
    use_ai_confirmation = models.BooleanField(default=False)
    min_ai_confidence = models.PositiveSmallIntegerField(
        default=70, validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Lowest AI confidence (0-100) that still lets a trade through.")
    indicators = models.JSONField(default=dict, blank=True, validators=[validate_indicators],
                                  help_text="Indicator periods; missing keys take their documented defaults.")
    paused_until = models.DateTimeField(null=True, blank=True,
                                        help_text="Set by the daily-loss limit: no new entries before this time.")
    pause_reason = models.TextField(blank=True, default="")
    # The cycle trades a strategy on this person's authority (core.security.strategy_trading_refusal): when they
    # lose the order permission, or the live trading switch off paper, it stops. Empty for strategies activated
    # before this was recorded (and when the user is deleted): those trade on paper only.
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Who last activated it. The cycle stops trading it when they may no longer trade.")
    # A version made from another strategy (trades.optimise's "Apply": the old one is kept, untouched).
    derived_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derivatives",
        help_text="The strategy this one was made from (an optimisation's chosen parameters).")
    derivation_note = models.TextField(blank=True, default="",
                                       help_text="How it was made from the other: who applied which trial of which "
                                                 "optimisation, and when.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StrategyQuerySet.as_manager()

    class Meta:
        db_table = "strategies"
        ordering = ["name"]
        verbose_name_plural = "strategies"
        constraints = [
            models.CheckConstraint(
                condition=Q(risk_percentage__gt=0, risk_percentage__lte=100), name="strategy_risk_in_range",
                violation_error_message="Risk per trade must be more than 0% and at most 100%."),
            models.CheckConstraint(
                condition=Q(max_positions__gte=1), name="strategy_max_positions_at_least_one",
                violation_error_message="Max positions must be at least 1."),
            models.CheckConstraint(
                condition=Q(stop_loss_percentage__gt=0, stop_loss_percentage__lt=100),
                name="strategy_stop_loss_in_range",
                violation_error_message="Stop-loss must be more than 0% and below 100%."),
            models.CheckConstraint(
                condition=Q(take_profit_percentage__gt=0), name="strategy_take_profit_positive",
                violation_error_message="Take-profit must be more than 0%."),
            models.CheckConstraint(
                condition=Q(min_ai_confidence__gte=0, min_ai_confidence__lte=100),
                name="strategy_min_ai_confidence_in_range",
                violation_error_message="Minimum AI confidence must be between 0 and 100."),
            models.CheckConstraint(
                condition=Q(leverage__gte=1, leverage__lte=100), name="strategy_leverage_in_range",
                violation_error_message="Leverage must be between 1 and 100."),
            models.CheckConstraint(
                condition=Q(max_daily_loss_percentage__isnull=True)
                | Q(max_daily_loss_percentage__gt=0, max_daily_loss_percentage__lte=100),
                name="strategy_daily_loss_in_range",
                violation_error_message="Daily loss limit must be empty, or more than 0% and at most 100%."),
            models.CheckConstraint(
                condition=Q(timeframe__in=[value for value, _ in TIMEFRAME_CHOICES]), name="strategy_timeframe_known",
                violation_error_message="Timeframe must be a Bybit kline interval."),
        ]

    def __str__(self):
        return self.name

    def clean_fields(self, exclude=None):
        # The indicators field's own validator knows the built-ins' settings only; clean() checks the values
        # against the chosen class's declared parameters instead (the built-ins' check included).
        super().clean_fields(exclude={*(exclude or ()), "indicators"})

    def clean(self):
        super().clean()
        errors = {}
        problem = self.parameters_problem()
        if problem:
            errors["indicators"] = problem
        if self.confirm_timeframe:
            if INTERVAL_MINUTES[self.confirm_timeframe] <= INTERVAL_MINUTES.get(self.timeframe, 0):
                errors["confirm_timeframe"] = "The confirmation timeframe must be longer than the strategy's timeframe."
        problem = stop_loss_problem(self.stop_loss_percentage, self.leverage)
        if problem:
            errors["stop_loss_percentage"] = problem
        if self.indicators in (None, ""):
            self.indicators = {}
        if errors:
            raise ValidationError(errors)

    def is_paused(self, now: datetime) -> bool:
        """No new entries at ``now``: a pause (the daily-loss limit's, or a person's) that has not ended. An
        expired pause is no pause: the strategy runs."""
        return self.paused_until is not None and self.paused_until > now

    @property
    def paused_now(self) -> bool:
        return self.is_paused(timezone.now())

    @property
    def paused_until_resumed(self) -> bool:
        return self.paused_until == self.PAUSED_INDEFINITELY

    def parameters_problem(self) -> list[str]:
        """Why ``indicators`` does not suit the class's declared parameters (empty: they do, or the class is
        missing, which the type's own validation reports)."""
        cls = strategy_class(self.type)
        if cls is None:
            return []
        try:
            cls.clean_parameters(self.indicators)
        except ParameterError as error:
            return _each_problem(cls, self.indicators) or [str(error)]
        except ValidationError as error:
            return error.messages
        except Exception as error:  # noqa: BLE001 - a strategy file's own rule: its failure is the answer, not a 500
            return [f"{cls.__name__}.clean_parameters raised {type(error).__name__}: {error}"]
        return []

    @property
    def parameters(self) -> dict:
        """The class's parameter values: ``indicators`` checked, every default filled in (raises ParameterError or
        ValidationError when they do not suit it). A strategy whose class is missing keeps its values as stored."""
        cls = strategy_class(self.type)
        return dict(self.indicators or {}) if cls is None else cls.clean_parameters(self.indicators)

    @property
    def indicator_config(self) -> dict:
        """Older name of ``parameters``."""
        return self.parameters


class StrategyCheck(models.Model):
    """A look-ahead and warm-up check's verdict (``strategies.checks``) for one strategy class, as its file read
    then, with one set of parameter values, on one symbol's bundled candles: activation reuses a pass rather than
    running the strategy again, and ``manage.py list_strategies`` shows it. A changed file is a new check."""

    key = models.CharField(max_length=100, help_text="The strategy class's key.")
    source_hash = models.CharField(max_length=64, help_text="SHA-256 of the class's file (and the check's version).")
    parameters_hash = models.CharField(max_length=64, help_text="SHA-256 of the cleaned parameter values.")
    symbol = models.CharField(max_length=30)
    parameters = models.JSONField(default=dict)
    passed = models.BooleanField()
    report = models.TextField(help_text="The check's report, as check_strategy prints it.")
    checked_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "strategy_checks"
        ordering = ["key", "-checked_at"]
        constraints = [models.UniqueConstraint(fields=["key", "source_hash", "parameters_hash", "symbol"],
                                               name="strategy_check_once_per_version")]

    def __str__(self) -> str:
        return f"{self.key} {'passed' if self.passed else 'failed'} ({self.checked_at:%Y-%m-%d %H:%M})"
