import secrets

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models


class Channel(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class Event(models.TextChoices):
    """The names NOTIFY_EVENTS, TELEGRAM_EVENTS and EMAIL_EVENTS use."""

    TRADE_OPENED = "trade_opened", "Trade opened"
    TRADE_CLOSED = "trade_closed", "Trade closed"
    STRATEGY_PAUSED = "strategy_paused", "Strategy paused"
    ERRORS = "errors", "Repeated errors"
    RECONCILIATION = "reconciliation", "Reconciliation finding"
    DAILY_SUMMARY = "daily_summary", "Daily summary"
    TEST = "test", "Test (notify_test)"


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


def validate_webhook_events(value) -> None:
    known = [event for event in Event.values if event != Event.TEST]
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise ValidationError(f"Choose at least one event: {', '.join(known)}.")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValidationError(f"Unknown event {unknown[0]!r}; known: {', '.join(known)}.")


class WebhookQuerySet(models.QuerySet):
    def for_event(self, event: str) -> list:
        """The enabled hooks that send ``event`` (filtered here: SQLite cannot search inside a JSON list)."""
        return [hook for hook in self.filter(enabled=True).order_by("pk") if event in hook.events]


class Webhook(models.Model):
    """An HTTP endpoint that receives the notifications' events as JSON: signed with the hook's own secret
    (``json``), or as a Discord message (``discord``). Delivered by the same task, with the same retries and the
    same ledger (``Delivery``), as Telegram and email."""

    class Preset(models.TextChoices):
        JSON = "json", "Signed JSON"
        DISCORD = "discord", "Discord"

    objects = WebhookQuerySet.as_manager()

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500, validators=[URLValidator(schemes=["http", "https"])],
                          help_text="Where the events are POSTed (http or https). A Discord channel's webhook URL "
                                    "with the Discord preset.")
    events = models.JSONField(default=list, validators=[validate_webhook_events],
                              help_text="Which events this hook receives (also only those NOTIFY_EVENTS sends).")
    preset = models.CharField(max_length=10, choices=Preset.choices, default=Preset.JSON)
    # Shown once, when the hook is created (or the secret replaced), never again, never logged.
    secret = models.CharField(max_length=64, default=new_webhook_secret, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "notification_webhooks"
        ordering = ["name"]

    def __str__(self):
        return self.name


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
    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries",
                                help_text="The hook a webhook delivery went to (one delivery per hook and message).")
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
