from django.db import models
from django.db.models import Q


class AICall(models.Model):
    """One question to the model about one candle, with what it cost and what came back.

    The row is both the audit trail (latency, tokens, cost per day) and the decision cache: a
    successful answer for (strategy, symbol, timeframe, candle) is reused, never asked again.
    """

    class Status(models.TextChoices):
        OK = "ok", "Valid answer"
        INVALID = "invalid", "Malformed answer (rejected)"
        ERROR = "error", "Call failed"

    strategy = models.ForeignKey("strategies.Strategy", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="ai_calls")
    symbol = models.CharField(max_length=50, db_index=True)
    timeframe = models.CharField(max_length=10)
    candle_time = models.DateTimeField(help_text="Open time of the candle the question is about.")
    model = models.CharField(max_length=100)
    prompt_version = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices)
    action = models.CharField(max_length=10, blank=True, default="")
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    risk_level = models.CharField(max_length=10, blank=True, default="")
    reasoning = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    latency_ms = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "ai_calls"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["strategy", "symbol", "timeframe", "candle_time"],
                                    condition=Q(status="ok"), name="one_ai_answer_per_candle"),
            models.CheckConstraint(condition=Q(confidence__isnull=True) | Q(confidence__lte=100),
                                   name="ai_confidence_in_range"),
        ]

    def __str__(self):
        return f"{self.symbol} {self.candle_time:%Y-%m-%d %H:%M} {self.status} {self.action}"
