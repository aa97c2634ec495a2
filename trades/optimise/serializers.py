"""What the Optimise API and page accept and answer. One launch serializer serves both (the page posts the same
fields as a form: lists as comma- or space-separated text)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from strategies.models import Strategy
from trades.backtest.data import BUNDLED, CACHE
from trades.backtest.serializers import CostFields
from trades.optimise import objectives, study
from trades.optimise.commands import MAX_TRIALS, StudyRequest
from trades.optimise.folds import MAX_FOLDS, TEST_SHARE_RANGE
from trades.optimise.models import OptimisationFold, OptimisationRun
from trades.optimise.space import parse_items

SUMMARY_FIELDS = ("id", "url", "name", "strategy", "strategy_type", "timeframe", "symbols", "start", "end", "status",
                  "progress", "trials_done", "trials_total", "error", "created_at", "finished_at")


@extend_schema_field({"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]})
class TextList(serializers.ListField):
    """A list, or the same as text: "BTCUSDT,ETHUSDT" or "fast=5:50 slow=20:200"."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [item for item in data.replace(",", " ").split() if item]
        elif hasattr(data, "getlist"):  # a form's field sent as several values
            data = data.getlist(self.field_name)
        return super().to_internal_value(data)

    def get_value(self, dictionary):
        if hasattr(dictionary, "getlist") and self.field_name in dictionary:
            values = dictionary.getlist(self.field_name)
            return values if len(values) > 1 else values[0]
        return dictionary.get(self.field_name, serializers.empty)


@extend_schema_field({"oneOf": [{"type": "object", "additionalProperties": {"type": "string"}},
                                {"type": "array", "items": {"type": "string"}}, {"type": "string"}],
                      "example": {"fast": "5:50", "slow": "20:200:10"}})
class SettingMap(serializers.Field):
    """Settings by name: {"fast": "5:50"}, ["fast=5:50", ...] or the text "fast=5:50 slow=20:200"."""

    def __init__(self, flag: str, **kwargs):
        super().__init__(**kwargs)
        self.flag = flag

    def to_internal_value(self, data):
        if isinstance(data, dict):
            return {str(key): str(value) for key, value in data.items()}
        if isinstance(data, str):
            data = data.split()
        if not isinstance(data, list):
            raise serializers.ValidationError("Give name=value pairs, e.g. fast=5:50 slow=20:200.")
        items = [str(item) for item in data]
        if any("=" not in item for item in items):
            raise serializers.ValidationError(f"{self.flag}: write name=value (a range: name=low:high[:step]).")
        return parse_items(items, self.flag)

    def to_representation(self, value):
        return value


class OptimiseLaunchSerializer(CostFields):
    strategy = serializers.PrimaryKeyRelatedField(queryset=Strategy.objects.all(), help_text="Strategy id.")
    symbols = TextList(child=serializers.CharField(max_length=30), required=False, max_length=20,
                       help_text="Default: the strategy's. Each trial backtests every symbol, separately, with the "
                                 "same parameters; the objective sums profits, averages ratios, takes the worst "
                                 "drawdown.")
    start = serializers.DateField(required=False, help_text="First day (UTC). Default: the data's first day.")
    end = serializers.DateField(required=False, help_text="Last day (UTC, included). Default: the data's last.")
    trials = serializers.IntegerField(min_value=1, max_value=MAX_TRIALS, default=100,
                                      help_text="Trials per fold (a grid runs every cell).")
    sampler = serializers.ChoiceField(choices=study.SAMPLERS, required=False, allow_blank=True,
                                      help_text="Default: tpe, or nsga2 with several objectives.")
    objectives = TextList(child=serializers.ChoiceField(choices=objectives.CHOICES), required=False,
                          help_text="sharpe (default), sortino, calmar, profit, drawdown; profit_dd is profit and "
                                    "drawdown (a Pareto front).")
    walk_forward = serializers.IntegerField(min_value=0, max_value=MAX_FOLDS, default=0,
                                            help_text="Folds (0: one in-sample study over the whole range).")
    test_share = serializers.FloatField(min_value=TEST_SHARE_RANGE[0], max_value=TEST_SHARE_RANGE[1], default=0.2,
                                        help_text="Share of each fold that is its test window.")
    anchored = serializers.BooleanField(default=False, help_text="Train from the start each time (default: rolling).")
    min_trades = serializers.IntegerField(min_value=0, max_value=100_000, default=10,
                                          help_text="Trials with fewer trades (all symbols) are pruned.")
    space = SettingMap("space", required=False, help_text='Ranges to search instead of the declared ones, e.g. '
                                                          '{"fast": "5:50", "slow": "20:200:10"}.')
    params = SettingMap("param", required=False, help_text='Parameters to pin for the run, e.g. {"rsi_period": "9"}.')
    data_source = serializers.ChoiceField(choices=[BUNDLED, CACHE], default=BUNDLED)
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "The last day must not be before the first."})
        return attrs

    def request(self) -> StudyRequest:
        data = self.validated_data
        return StudyRequest(
            strategy_id=data["strategy"].pk, symbols=data.get("symbols") or [],
            start=_day(data["start"]) if data.get("start") else None,
            end=_day_after(data["end"]) if data.get("end") else None, trials=data["trials"],
            sampler=data.get("sampler") or "", objectives=data.get("objectives") or ["sharpe"],
            walk_forward=data["walk_forward"], test_share=data["test_share"], anchored=data["anchored"],
            min_trades=data["min_trades"], ranges=data.get("space") or {}, pins=data.get("params") or {},
            source=data["data_source"], initial_balance=data["initial_balance"],
            fee_rate=data["fee_percent"] / 100, slippage_bps=data["slippage_bps"], seed=data.get("seed"))


class OptimiseSummarySerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True, help_text="The run's page.")
    status = serializers.CharField(read_only=True, help_text="running, done or failed.")

    class Meta:
        model = OptimisationRun
        fields = SUMMARY_FIELDS
        read_only_fields = fields


class OptimiseFoldSerializer(serializers.ModelSerializer):
    class Meta:
        model = OptimisationFold
        fields = ("index", "status", "study_name", "train_start", "train_end", "test_start", "test_end",
                  "chosen_trial", "chosen_params", "in_sample", "out_of_sample", "pareto", "note")
        read_only_fields = fields


class OptimiseDetailSerializer(OptimiseSummarySerializer):
    folds = OptimiseFoldSerializer(many=True, read_only=True)

    class Meta:
        model = OptimisationRun
        fields = (*SUMMARY_FIELDS, "settings", "folds", "results")
        read_only_fields = fields


class ApplySerializer(serializers.Serializer):
    trial = serializers.IntegerField(min_value=0, help_text="The trial's number in its fold's study.")
    fold = serializers.IntegerField(min_value=1, required=False, help_text="Fold (from 1). Default: the last.")


def _day(value) -> datetime:
    return datetime.combine(value, time.min, tzinfo=UTC)


def _day_after(value) -> datetime:
    return _day(value + timedelta(days=1)) if value < date.max else datetime.max.replace(tzinfo=UTC)
