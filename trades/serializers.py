from rest_framework import serializers

from trades.models import CycleRun, Decision, Trade


class TradeSerializer(serializers.ModelSerializer):
    strategy_name = serializers.CharField(source="strategy.name", read_only=True, default=None)

    class Meta:
        model = Trade
        fields = ["id", "strategy", "strategy_name", "symbol", "side", "quantity", "price", "stop_loss",
                  "take_profit", "leverage", "order_id", "order_link_id", "confidence", "reasoning", "status",
                  "status_reason", "candle_time", "exit_price", "realized_pnl", "fees", "created_at",
                  "executed_at", "closed_at"]
        read_only_fields = fields


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Decision
        fields = ["strategy", "symbol", "timeframe", "candle_time", "action", "outcome", "reasons", "detail", "price",
                  "ai_confidence", "trade", "created_at"]
        read_only_fields = fields


class CycleRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = CycleRun
        fields = ["id", "trigger", "status", "started_at", "finished_at", "pairs", "orders", "error"]
        read_only_fields = fields


class BreakdownSerializer(serializers.Serializer):
    key = serializers.CharField()
    total_trades = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = serializers.DecimalField(max_digits=7, decimal_places=4, allow_null=True)
    total_pnl = serializers.DecimalField(max_digits=24, decimal_places=8)
    average_pnl = serializers.DecimalField(max_digits=24, decimal_places=8, allow_null=True)
    profit_factor = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    max_drawdown = serializers.DecimalField(max_digits=24, decimal_places=8)


class StatsSerializer(BreakdownSerializer):
    key = None
    gross_profit = serializers.DecimalField(max_digits=24, decimal_places=8)
    gross_loss = serializers.DecimalField(max_digits=24, decimal_places=8)
    open_trades = serializers.IntegerField()
    pending_trades = serializers.IntegerField()
    failed_trades = serializers.IntegerField()
    fees_paid = serializers.DecimalField(max_digits=24, decimal_places=8)
    by_symbol = BreakdownSerializer(many=True)
    by_strategy = BreakdownSerializer(many=True)

