"""``BacktestRun``: one backtest, stored so it can be reproduced and compared.

It records what went in (strategy settings, costs, the data's source, range and sha256, the code
version) and what came out (metrics, a downsampled equity curve, every trade, candles for the chart).
Money is Decimal, kept as strings inside the JSON fields and as DecimalField(20, 8) where it is a column.
"""

from django.db import models
from django.db.models import Q
from django.urls import reverse

MONEY = {"max_digits": 20, "decimal_places": 8}


class BacktestRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    strategy = models.ForeignKey("strategies.Strategy", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="backtests", help_text="Empty for a config file or a deleted strategy.")
    name = models.CharField(max_length=255, help_text="The strategy's name when the run was made.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done, while running.")
    error = models.TextField(blank=True, default="")
    symbol = models.CharField(max_length=50)
    timeframe = models.CharField(max_length=10)
    start = models.DateTimeField(help_text="First traded minute (inclusive).")
    end = models.DateTimeField(help_text="End of the range (exclusive).")
    parameters = models.JSONField(default=dict, help_text="Strategy settings, costs, balance, data source.")
    data = models.JSONField(default=dict, help_text="Source, candles, gaps, first and last candle.")
    data_checksum = models.CharField(max_length=64, blank=True, default="",
                                     help_text="sha256 of every candle read (warm-up included).")
    code_version = models.CharField(max_length=100, blank=True, default="")
    initial_balance = models.DecimalField(**MONEY)
    final_equity = models.DecimalField(**MONEY, null=True, blank=True)
    total_return_pct = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    trades_count = models.PositiveIntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict)
    equity_curve = models.JSONField(default=list, help_text="[time ms, equity, drawdown %], downsampled.")
    trades = models.JSONField(default=list, help_text="Every closed trade (and the open one, last).")
    chart = models.JSONField(default=dict, help_text="Candles for the page's chart.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    HEAVY_FIELDS = ("equity_curve", "trades", "chart")

    class Meta:
        db_table = "backtest_runs"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["pending", "running", "done", "failed"]),
                                   name="backtest_status_known", violation_error_message="Unknown backtest status."),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="backtest_range_not_empty",
                                   violation_error_message="The end must be after the start."),
        ]

    def __str__(self):
        return f"backtest {self.pk} {self.name} {self.symbol} {self.timeframe} [{self.status}]"

    def get_absolute_url(self):
        return reverse("backtest-detail", args=[self.pk])

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
