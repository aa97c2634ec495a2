from django.db import models


class Channel(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    EMAIL = "email", "Email"


class Event(models.TextChoices):
    """The names NOTIFY_EVENTS, TELEGRAM_EVENTS and EMAIL_EVENTS use."""

    TRADE_OPENED = "trade_opened", "Trade opened"
    TRADE_CLOSED = "trade_closed", "Trade closed"
    STRATEGY_PAUSED = "strategy_paused", "Strategy paused"
    ERRORS = "errors", "Repeated errors"
    RECONCILIATION = "reconciliation", "Reconciliation finding"
    DAILY_SUMMARY = "daily_summary", "Daily summary"
    TEST = "test", "Test (notify_test)"


class Delivery(models.Model):
    """One message on one channel: what was sent, or why it could not be.

    Written by the delivery task after each attempt, so an ongoing outage shows as ``retrying`` and a
    message that ran out of attempts stays as ``failed`` with its last reason (tokens redacted).
    """

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"

    # One key per message and channel: a task delivered twice (worker lost before its ack) sees the
    # message already sent and does not send it again.
    key = models.UUIDField(unique=True, editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    event = models.CharField(max_length=20, choices=Event.choices)
    title = models.CharField(max_length=200)
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(db_index=True, help_text="When the event happened and the message was written.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When the last attempt ended.")

    class Meta:
        db_table = "notification_deliveries"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"

    def __str__(self):
        return f"{self.event} via {self.channel}: {self.status}"


class DailySummary(models.Model):
    """The claim that a day's summary was sent: unique per day, so beat firing twice sends it once."""

    day = models.DateField(unique=True, help_text="Local date (BOT_TIMEZONE) the summary is for.")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "notification_daily_summaries"
        ordering = ["-day"]
        verbose_name_plural = "daily summaries"

    def __str__(self):
        return f"summary for {self.day:%Y-%m-%d}"
