"""What the Backtests API and page accept and answer. One launch serializer serves both."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from rest_framework import serializers

from strategies.models import SYMBOL_PATTERN, TIMEFRAME_CHOICES, Strategy
from trades.backtest import costs
from trades.backtest.data import BUNDLED, CACHE, DataError, RangeError, fit_range
from trades.backtest.inputs import StrategySpec
from trades.backtest.models import BacktestRun
from trades.backtest.runner import RunSettings, warmup_for

SUMMARY_FIELDS = ("id", "url", "name", "strategy", "status", "progress", "error", "symbol", "timeframe", "start",
                  "end", "initial_balance", "final_equity", "total_return_pct", "trades_count", "code_version",
                  "data_checksum", "duration_ms", "created_at", "finished_at")


class BacktestSummarySerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True, help_text="The run's page.")
    # A plain string: an enum here would collide with the trades' "status" enum in the schema.
    status = serializers.CharField(read_only=True, help_text="pending, running, done or failed.")

    class Meta:
        model = BacktestRun
        fields = SUMMARY_FIELDS
        read_only_fields = fields


class BacktestDetailSerializer(BacktestSummarySerializer):
    class Meta:
        model = BacktestRun
        fields = (*SUMMARY_FIELDS, "parameters", "data", "metrics", "equity_curve", "trades", "chart")
        read_only_fields = fields


class CostFields(serializers.Serializer):
    """What a run starts with and pays (``trades.backtest.costs``): the backtest's and the optimiser's launch forms."""

    initial_balance = serializers.DecimalField(max_digits=20, decimal_places=8, min_value=Decimal("1"),
                                               default=costs.INITIAL_BALANCE)
    fee_percent = serializers.DecimalField(max_digits=6, decimal_places=4, min_value=Decimal("0"),
                                           max_value=Decimal("1"), default=costs.FEE_PERCENT,
                                           help_text="Taker fee per side, in percent.")
    slippage_bps = serializers.DecimalField(max_digits=7, decimal_places=2, min_value=Decimal("0"),
                                            max_value=Decimal("500"), default=costs.SLIPPAGE_BPS)


class BacktestLaunchSerializer(CostFields):
    strategy = serializers.PrimaryKeyRelatedField(queryset=Strategy.objects.all(), help_text="Strategy id.")
    symbol = serializers.CharField(required=False, max_length=30, help_text="Default: the strategy's first symbol.")
    symbols = serializers.ListField(
        child=serializers.CharField(max_length=30), required=False, min_length=1, max_length=10,
        help_text="A portfolio run: these symbols on one wallet, at most the strategy's max_positions open at once "
                  "(instead of symbol).")
    funding = serializers.BooleanField(default=True, help_text="Pay funding every 8 h (the downloaded rates, else "
                                                               "0.01 % per 8 h, which the report says).")
    timeframe = serializers.ChoiceField(choices=TIMEFRAME_CHOICES, required=False,
                                        help_text="Default: the strategy's.")
    start = serializers.DateField(required=False, help_text="First day (UTC). Default: the data's first day.")
    end = serializers.DateField(required=False, help_text="Last day (UTC, included). Default: the data's last.")
    data_source = serializers.ChoiceField(choices=[BUNDLED, CACHE], default=BUNDLED,
                                          help_text="bundled (real month in the repo) or cache (downloaded).")
    ai = serializers.BooleanField(default=False, help_text="Replay cached AI answers (never calls the API).")

    def validate(self, attrs):
        strategy = attrs["strategy"]
        if attrs.get("symbols") and attrs.get("symbol"):
            raise serializers.ValidationError({"symbols": "Give symbol (one) or symbols (a portfolio), not both."})
        symbols = tuple(dict.fromkeys(name.upper() for name in attrs.get("symbols") or [
            attrs.get("symbol") or (strategy.symbols[0] if strategy.symbols else "")]))
        for symbol in symbols:
            if not SYMBOL_PATTERN.match(symbol):
                field = "symbols" if attrs.get("symbols") else "symbol"
                raise serializers.ValidationError({field: f"{symbol!r} is not a USDT perpetual such as BTCUSDT."})
        spec = StrategySpec.from_strategy(strategy)
        if attrs.get("timeframe"):
            spec = replace(spec, timeframe=attrs["timeframe"])
        start = _day(attrs["start"]) if attrs.get("start") else None
        end = _day_after(attrs["end"]) if attrs.get("end") else None
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end": "The last day must not be before the first."})
        try:
            spans = [fit_range(symbol, attrs["data_source"], start, end, warmup_for(spec)) for symbol in symbols]
        except RangeError as error:
            raise serializers.ValidationError({"start": str(error)}) from None
        except DataError as error:
            raise serializers.ValidationError({"symbols" if len(symbols) > 1 else "symbol": str(error)}) from None
        span = replace(spans[0], start=max(s.start for s in spans), end=min(s.end for s in spans),
                       note=" ".join(s.note for s in spans if s.note))
        if span.end <= span.start:
            raise serializers.ValidationError({"start": f"{', '.join(symbols)} have no candles in common there."})
        attrs["spec"] = spec
        attrs["settings"] = RunSettings(symbol=symbols[0], symbols=symbols if len(symbols) > 1 else (),
                                        funding=attrs["funding"], start=span.start, end=span.end,
                                        source=attrs["data_source"],
                                        initial_balance=attrs["initial_balance"],
                                        fee_rate=attrs["fee_percent"] / 100, slippage_bps=attrs["slippage_bps"],
                                        use_ai=attrs["ai"], note=span.note)
        return attrs


def _day(value) -> datetime:
    return datetime.combine(value, time.min, tzinfo=UTC)


def _day_after(value) -> datetime:
    """The end of ``value`` (a date): the next midnight, or the latest datetime there is after 9999-12-31."""
    return _day(value + timedelta(days=1)) if value < date.max else datetime.max.replace(tzinfo=UTC)
