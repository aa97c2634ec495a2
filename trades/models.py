from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TradeSide(models.TextChoices):
    BUY = "Buy", "Buy (long)"
    SELL = "Sell", "Sell (short)"


class TradeStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # row written, order sent or about to be; outcome not yet known
    OPEN = "open", "Open"  # entry filled, position held
    CLOSED = "closed", "Closed"  # position closed, exit price and realized PnL known
    FAILED = "failed", "Failed"  # no position resulted; status_reason says why
    CANCELLED = "cancelled", "Cancelled"  # cancelled by the operator while pending


LIVE_STATUSES = (TradeStatus.PENDING, TradeStatus.OPEN)


class TradeQuerySet(models.QuerySet):
    """The only spellings of which trades are which: ``Trade.objects.live()`` and friends."""

    def live(self):
        """Pending or open: the trade holds (or may be about to hold) its symbol's position."""
        return self.filter(status__in=LIVE_STATUSES)

    def open(self):
        return self.filter(status=TradeStatus.OPEN)

    def pending(self):
        return self.filter(status=TradeStatus.PENDING)

    def closed(self):
        """Closed with a realized PnL: what statistics and the equity curve count."""
        return self.filter(status=TradeStatus.CLOSED, realized_pnl__isnull=False)

    def on(self, symbol: str):
        return self.filter(symbol=symbol)

MONEY = {"max_digits": 20, "decimal_places": 8}


class Trade(models.Model):
    objects = TradeQuerySet.as_manager()

    strategy = models.ForeignKey("strategies.Strategy", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="trades", help_text="Empty for manual trades.")
    symbol = models.CharField(max_length=50, db_index=True)
    side = models.CharField(max_length=10, choices=TradeSide.choices)
    quantity = models.DecimalField(**MONEY)
    price = models.DecimalField(**MONEY, null=True, blank=True, help_text="Average entry fill price.")
    stop_loss = models.DecimalField(**MONEY, null=True, blank=True)
    take_profit = models.DecimalField(**MONEY, null=True, blank=True)
    leverage = models.DecimalField(max_digits=5, decimal_places=2, default=1)
    order_id = models.CharField(max_length=100, blank=True, default="", help_text="The exchange's order id.")
    order_link_id = models.CharField(max_length=36, unique=True,
                                     help_text="Our idempotent client order id, recorded before sending.")
    exit_order_link_id = models.CharField(max_length=36, blank=True, default="")
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    reasoning = models.TextField(blank=True, default="")
    status = models.CharField(max_length=20, choices=TradeStatus.choices, default=TradeStatus.PENDING,
                              db_index=True)
    status_reason = models.TextField(blank=True, default="", help_text="Why a trade failed or was cancelled.")
    candle_time = models.DateTimeField(null=True, blank=True, help_text="Open time of the signal candle.")
    exit_price = models.DecimalField(**MONEY, null=True, blank=True)
    realized_pnl = models.DecimalField(**MONEY, null=True, blank=True, help_text="Net of fees.")
    fees = models.DecimalField(**MONEY, default=0, help_text="The entry's fee while open; every fee once closed.")
    # Partial take-profits, as the exchange's closed-PnL records tell them (trades.reconcile): the position holds
    # quantity - closed_quantity, and the close of the rest adds the parts' PnL and fees to its own.
    closed_quantity = models.DecimalField(**MONEY, default=0, help_text="Taken off by partial take-profits so far.")
    partial_gross = models.DecimalField(**MONEY, default=0, help_text="Those parts' price PnL, before fees.")
    partial_fees = models.DecimalField(**MONEY, default=0, help_text="Those parts' closing fees.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "trades"
        ordering = ["-created_at", "-id"]
        # Checked by every order endpoint, the Trades page and, for a strategy's activator, the cycle
        # (core.security); paper trading included.
        permissions = [("trade_orders", "Can place, close and cancel orders"),
                       ("set_leverage", "Can set a symbol's leverage")]
        indexes = [models.Index(fields=["symbol", "created_at"], name="trades_symbol_created_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(side__in=TradeSide.values), name="trade_side_known",
                                   violation_error_message="Side must be Buy or Sell."),
            models.CheckConstraint(condition=Q(status__in=TradeStatus.values), name="trade_status_known",
                                   violation_error_message="Unknown trade status."),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive",
                                   violation_error_message="Quantity must be more than 0."),
            models.CheckConstraint(condition=Q(confidence__isnull=True) | Q(confidence__lte=100),
                                   name="trade_confidence_in_range",
                                   violation_error_message="Confidence must be between 0 and 100."),
            # One-way position mode merges every entry on a symbol into one exchange position, so the bot
            # holds at most one live trade per symbol: a second entry could not get its own stop-loss.
            models.UniqueConstraint(fields=["symbol"], condition=Q(status__in=["pending", "open"]),
                                    name="one_live_trade_per_symbol",
                                    violation_error_message="There is already a pending or open trade on this "
                                                            "symbol."),
        ]

    def __str__(self):
        return f"{self.side} {self.quantity} {self.symbol} [{self.status}]"

    @property
    def log_extra(self) -> dict:
        """What every log line about this trade carries."""
        return {"strategy": self.strategy_id or "manual", "symbol": self.symbol, "order_link_id": self.order_link_id,
                "trade": self.pk}

    @property
    def open_quantity(self):
        """What the position holds of this trade: its quantity less what partial take-profits took."""
        return self.quantity - (self.closed_quantity or 0)

    def unrealized_pnl(self, mark_price):
        """What closing at ``mark_price`` would make before the exit fee (the exchange's unrealized PnL), or None
        for a trade that holds no position."""
        if self.status != TradeStatus.OPEN or self.price is None or mark_price is None:
            return None
        direction = 1 if self.side == TradeSide.BUY else -1
        return direction * (mark_price - self.price) * self.open_quantity

    def transition(self, from_statuses, **changes) -> bool:
        """Apply ``changes`` only if the trade is still in one of ``from_statuses``.

        The cycle, the reconciler and the API can race on the same trade; the conditional UPDATE lets
        exactly one of them make each change (and so send each notification once).
        """
        changes["updated_at"] = timezone.now()
        changed = Trade.objects.filter(pk=self.pk, status__in=list(from_statuses)).update(**changes)
        if changed:
            for field, value in changes.items():
                setattr(self, field, value)
        return bool(changed)

    def mark_open(self, *, order_id: str, price, quantity, fees, executed_at, reason: str = "") -> bool:
        """``quantity`` is what filled (a partial fill opens a trade of that size); ``reason`` says so."""
        return self.transition([TradeStatus.PENDING], status=TradeStatus.OPEN, order_id=order_id, price=price,
                               quantity=quantity, fees=fees, executed_at=executed_at, status_reason=reason[:2000])

    def mark_failed(self, reason: str) -> bool:
        return self.transition([TradeStatus.PENDING], status=TradeStatus.FAILED, status_reason=reason[:2000])

    def mark_cancelled(self, reason: str) -> bool:
        return self.transition([TradeStatus.PENDING], status=TradeStatus.CANCELLED, status_reason=reason[:2000])

    def mark_closed(self, *, exit_price, realized_pnl, fees, closed_at, reason: str = "") -> bool:
        return self.transition([TradeStatus.OPEN], status=TradeStatus.CLOSED, exit_price=exit_price,
                               realized_pnl=realized_pnl, fees=fees, closed_at=closed_at, status_reason=reason)


class CycleRun(models.Model):
    """One firing of the trading cycle, for the dashboard's "last cycle" and for auditing."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    trigger = models.CharField(max_length=20, default="beat")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pairs = models.PositiveIntegerField(default=0, help_text="Strategy x symbol pairs evaluated.")
    orders = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    worker = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"cycle {self.pk} {self.status} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class StrategyLease(models.Model):
    """Which cycle is trading a strategy right now.

    Claimed with a filtered UPDATE (``expires_at <= now``) that succeeds for exactly one caller, on
    PostgreSQL and SQLite alike; a crashed holder's lease simply expires.
    """

    strategy = models.OneToOneField("strategies.Strategy", primary_key=True, on_delete=models.CASCADE,
                                    related_name="lease")
    owner = models.CharField(max_length=64, blank=True, default="")
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"lease on {self.strategy_id} by {self.owner or '-'} until {self.expires_at:%H:%M:%S}"


class DecisionOutcome(models.TextChoices):
    HOLD = "hold", "Hold"  # the signal said nothing to do
    SKIPPED = "skipped", "Skipped"  # a signal, stopped by a check (risk, AI, position held, paused)
    ENTERED = "entered", "Entered"  # an order was placed
    FAILED = "failed", "Failed"  # something broke; detail says what
    DRY_RUN = "dry_run", "Dry run"  # would have entered


class Decision(models.Model):
    """What the cycle decided for one strategy, symbol and signal candle, and why."""

    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.CASCADE, related_name="decisions")
    symbol = models.CharField(max_length=50)
    timeframe = models.CharField(max_length=10)
    candle_time = models.DateTimeField(null=True, blank=True)
    action = models.CharField(max_length=10)  # LONG | SHORT | HOLD, as the strategy signalled
    outcome = models.CharField(max_length=10, choices=DecisionOutcome.choices)
    reasons = models.JSONField(default=list)
    detail = models.TextField(blank=True, default="")
    price = models.DecimalField(**MONEY, null=True, blank=True)
    ai_confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    trade = models.ForeignKey(Trade, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions")
    created_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["strategy", "symbol", "candle_time"], name="one_decision_per_candle"),
        ]
        indexes = [models.Index(fields=["strategy", "symbol", "-created_at"], name="decision_latest_idx")]

    def __str__(self):
        return f"{self.strategy_id} {self.symbol} {self.action} -> {self.outcome}"


class EntrySwitch(models.Model):
    """The bot-wide "no new entries" switch (``/stopentry``, ``POST /api/bot/entries``): one row, id 1.

    Stopped, the cycle opens nothing new while open trades stay managed (their stop-loss and take-profit sit on the
    exchange, reconciliation and time exits go on). Changed through ``trades.entries`` only."""

    ONLY_ID = 1

    stopped = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True, default="")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "trades_entry_switch"
        verbose_name = "entry switch"
        verbose_name_plural = "entry switch"

    def __str__(self):
        return f"entries {'stopped' if self.stopped else 'allowed'}"

    @classmethod
    def current(cls) -> "EntrySwitch":
        """The switch as stored, or the default (entries allowed, unsaved) before anyone touched it."""
        return cls.objects.select_related("changed_by").filter(pk=cls.ONLY_ID).first() or cls(pk=cls.ONLY_ID)

    @classmethod
    def stopped_reason(cls) -> str | None:
        """Why new entries are stopped ("<reason> (by <user>)"), or None when the bot may enter."""
        switch = cls.current()
        if not switch.stopped:
            return None
        by = switch.changed_by.get_username() if switch.changed_by else "someone since deleted"
        return f"{switch.reason} (by {by})" if switch.reason else f"by {by}"


from trades.backtest.models import BacktestRun  # noqa: E402,F401
