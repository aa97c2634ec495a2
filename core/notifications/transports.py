"""The ways a message leaves the bot: the Telegram Bot API over HTTPS and Django's email backend here, webhooks in
``webhooks``.

Each sender either returns (sent) or raises ``DeliveryError`` whose ``reason`` is already free of
secrets: the Bot API URL carries the token, and ``requests`` puts that URL into its exception
messages, so nothing from a caught exception leaves this module unscrubbed.
"""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.core.mail import EmailMessage

from core.logs import redact
from core.notifications.models import Channel, Webhook

logger = logging.getLogger(__name__)

REASON_LIMIT = 500
TELEGRAM_TEXT_LIMIT = 4096


class DeliveryError(Exception):
    """A channel could not take a message. ``retry_after`` is the wait the channel asked for, if any."""

    def __init__(self, reason: str, *, retryable: bool = True, retry_after: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


def enabled_channels() -> list[str]:
    channels = []
    if settings.TELEGRAM_ENABLED:
        channels.append(Channel.TELEGRAM.value)
    if settings.EMAIL_NOTIFICATIONS_ENABLED:
        channels.append(Channel.EMAIL.value)
    return channels


def channels_for(event: str) -> list[str]:
    """Enabled channels that send ``event``: it must be in NOTIFY_EVENTS and in the channel's own list (for
    ``webhook``: some enabled hook's events)."""
    if event not in settings.NOTIFY_EVENTS:
        return []
    own_events = {Channel.TELEGRAM: settings.TELEGRAM_EVENTS, Channel.EMAIL: settings.EMAIL_EVENTS}
    channels = [channel for channel in enabled_channels() if event in own_events[channel]]
    if webhooks_for(event):
        channels.append(Channel.WEBHOOK.value)
    return channels


def webhooks_for(event: str) -> list[int]:
    """The ids of the enabled webhooks that receive ``event``, whatever NOTIFY_EVENTS says."""
    return [hook.pk for hook in Webhook.objects.for_event(event)]


def send(channel: str, title: str, body: str) -> None:
    """Send one rendered message on ``channel`` with the configured credentials."""
    if channel == Channel.TELEGRAM:
        send_telegram(f"{title}\n{body}".strip(), base_url=settings.TELEGRAM_API_BASE_URL,
                      token=settings.TELEGRAM_BOT_TOKEN, chat_id=settings.TELEGRAM_CHAT_ID,
                      timeout=settings.TELEGRAM_TIMEOUT)
    elif channel == Channel.EMAIL:
        send_email(f"[tradebot] {title}", body, recipients=settings.NOTIFY_EMAIL_TO,
                   sender=settings.DEFAULT_FROM_EMAIL)
    else:
        raise DeliveryError(f"unknown channel {channel!r}", retryable=False)


def send_telegram(text: str, *, base_url: str, token: str, chat_id: str, timeout: float) -> None:
    url = f"{base_url}/bot{token}/sendMessage"
    payload = {"chat_id": chat_id, "text": text[:TELEGRAM_TEXT_LIMIT], "disable_web_page_preview": True}
    try:
        response = requests.post(url, json=payload, timeout=timeout)
    except requests.Timeout:
        raise DeliveryError(f"Telegram did not answer within {timeout} s") from None
    except requests.RequestException as error:
        # `from None`: the chained exception's message holds the URL, and with it the token.
        raise DeliveryError(f"cannot reach Telegram: {scrub(str(error))}") from None
    if response.status_code == 200:
        return
    reply = _json_or_empty(response)
    description = scrub(str(reply.get("description") or response.reason or "no description"))
    reason = f"Telegram answered HTTP {response.status_code}: {description}"
    if response.status_code == 429:
        retry_after = _retry_after(reply, response)
        raise DeliveryError(reason, retry_after=retry_after)
    # 5xx is Telegram's trouble and may pass; any other 4xx (bad token, unknown chat, bot blocked) will not.
    raise DeliveryError(reason, retryable=response.status_code >= 500)


def send_email(subject: str, body: str, *, recipients: list[str], sender: str) -> None:
    if not recipients:
        raise DeliveryError("no recipients: set NOTIFY_EMAIL_TO", retryable=False)
    try:
        EmailMessage(subject=subject, body=body, from_email=sender, to=recipients).send()
    except Exception as error:  # noqa: BLE001 - SMTP, socket and TLS errors all mean "not sent"
        raise DeliveryError(f"email not sent: {type(error).__name__}: {scrub(str(error))}") from None


def scrub(text: str) -> str:
    """``text`` with the channel credentials and every other known secret masked, cut to a sane length."""
    for secret in (settings.TELEGRAM_BOT_TOKEN, getattr(settings, "EMAIL_HOST_PASSWORD", "")):
        if secret:
            text = text.replace(secret, "***")
    text = redact(text)
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def _json_or_empty(response) -> dict:
    try:
        reply = response.json()
    except ValueError:
        return {}
    return reply if isinstance(reply, dict) else {}


def _retry_after(reply: dict, response) -> int | None:
    """Telegram says how long to wait in ``parameters.retry_after``; a proxy may use the header instead."""
    value = (reply.get("parameters") or {}).get("retry_after") or response.headers.get("Retry-After")
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return None
