"""Celery task: delivering one message on one channel, with retries, recorded in the delivery ledger."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task

from core.notifications import transports, webhooks
from core.notifications.models import Channel, Delivery, Webhook
from core.notifications.transports import DeliveryError

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (10, 30, 90, 270)  # before attempts 2..5: about 7 minutes of trying in all
# Redis hands a task whose countdown outlasts the broker's visibility_timeout (600 s) to a second worker,
# which would send the message twice: no wait, asked for or not, may come near it.
LONGEST_WAIT_SECONDS = 300


def next_delay(error: DeliveryError, attempt: int) -> int | None:
    """Seconds to wait before the next attempt after ``attempt`` failed with ``error``; None: give up."""
    if not error.retryable or attempt >= MAX_ATTEMPTS:
        return None
    if error.retry_after is not None:
        # Telegram's flood control: sending before retry_after only earns another 429.
        return max(error.retry_after, 1) if error.retry_after <= LONGEST_WAIT_SECONDS else None
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1]


@shared_task(bind=True, name="notifications.tasks.deliver", max_retries=MAX_ATTEMPTS - 1, ignore_result=True)
def deliver(self, *, key: str, channel: str, event: str, title: str, body: str, created_at: str,
            context: dict | None = None, webhook: int | None = None) -> str:
    """Send one message on one channel (for ``webhook``: to that hook), retrying with backoff; every outcome is
    recorded in ``Delivery``."""
    if Delivery.objects.filter(key=key, status=Delivery.Status.SENT).exists():
        return "already sent"  # a redelivered task (worker lost before its ack)
    attempt = self.request.retries + 1
    hook = Webhook.objects.filter(pk=webhook).first() if webhook else None
    log_extra = {**(context or {}), "channel": channel, "event": event, "attempt": attempt,
                 **({"webhook": hook.name if hook else webhook} if webhook else {})}
    record = {"key": key, "channel": channel, "event": event, "title": title[:200], "text": body,
              "created_at": datetime.fromisoformat(created_at), "attempts": attempt, "webhook": hook}
    try:
        if channel == Channel.WEBHOOK:
            _send_webhook(hook, webhook, key=key, event=event, title=title, text=body, created_at=created_at,
                          context=context or {})
        else:
            transports.send(channel, title, body)
    except DeliveryError as error:
        delay = next_delay(error, attempt)
        if delay is None:
            reason = _give_up_reason(error, attempt)
            _record(record, Delivery.Status.FAILED, reason)
            logger.warning("notification not delivered: %s", reason, extra=log_extra)
            return "failed"
        _record(record, Delivery.Status.RETRYING, error.reason)
        logger.info("notification delivery failed, retrying in %s s: %s", delay, error.reason, extra=log_extra)
        raise self.retry(countdown=delay, exc=error) from error
    _record(record, Delivery.Status.SENT, "")
    logger.info("notification sent", extra=log_extra)
    return "sent"


def _send_webhook(hook: Webhook | None, hook_id: int | None, **message) -> None:
    if hook is None:
        raise DeliveryError(f"webhook {hook_id} no longer exists", retryable=False)
    if not hook.enabled:
        raise DeliveryError(f"webhook {hook.name} was disabled", retryable=False)
    webhooks.send_webhook(hook, **message)


def _give_up_reason(error: DeliveryError, attempt: int) -> str:
    if not error.retryable:
        return error.reason
    if attempt >= MAX_ATTEMPTS:
        return f"{error.reason} (gave up after {attempt} attempts)"
    return f"{error.reason} (asked to wait {error.retry_after} s, more than the {LONGEST_WAIT_SECONDS} s allowed)"


def _record(fields: dict, status: str, last_error: str) -> None:
    fields = dict(fields)
    key = fields.pop("key")
    changes = {"status": status, "attempts": fields.pop("attempts"), "last_error": last_error}
    Delivery.objects.update_or_create(key=key, defaults=changes, create_defaults={**fields, **changes})

