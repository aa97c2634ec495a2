"""What the trading cycle calls to tell the trader something. Nothing here raises or waits on a channel.

Each function renders its message once, then, after the surrounding transaction commits, enqueues
one ``deliver`` task per channel that sends this event (TELEGRAM_ENABLED / EMAIL_NOTIFICATIONS_ENABLED,
NOTIFY_EVENTS and the per-channel TELEGRAM_EVENTS / EMAIL_EVENTS), and one per enabled webhook that asks for
it. A rolled-back transaction sends nothing, so call these where the fact they report is committed (or outside any
transaction).
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core.logs import redact
from core.notifications import messages
from core.notifications.messages import Message
from core.notifications.models import Channel
from core.notifications.tasks import deliver
from core.notifications.transports import channels_for, webhooks_for

logger = logging.getLogger(__name__)

ERROR_MUTE_SECONDS = 600


def _never_raises(function):
    """A notification that cannot be built or queued is logged, never passed up into a trade."""

    @functools.wraps(function)
    def guarded(*args, **kwargs) -> None:
        try:
            function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the caller is placing or closing a trade
            logger.error("notification %s not sent: %s", function.__name__,
                         redact(f"{type(error).__name__}: {error}"))

    return guarded


@_never_raises
def trade_opened(trade) -> None:
    dispatch(messages.trade_opened(trade), context=_trade_context(trade))


@_never_raises
def trade_closed(trade) -> None:
    dispatch(messages.trade_closed(trade), context=_trade_context(trade))


@_never_raises
def strategy_paused(strategy, reason: str) -> None:
    until = strategy.paused_until.astimezone(ZoneInfo(settings.BOT_TIMEZONE)) if strategy.paused_until else None
    dispatch(messages.strategy_paused(strategy, reason, local_until=until), context={"strategy": strategy.pk})


@_never_raises
def error(kind: str, message: str) -> None:
    """Repeated exchange or AI errors: at most one message per ``kind`` every 10 minutes, across processes."""
    rendered = messages.repeated_error(kind, message, muted_minutes=ERROR_MUTE_SECONDS // 60)
    dispatch(rendered, context={"error_kind": kind}, gate=lambda: _first_in_window(kind))


@_never_raises
def reconciliation(findings: list[str]) -> None:
    if findings:
        dispatch(messages.reconciliation(list(findings)), context={"findings": len(findings)})


def dispatch(message: Message, *, context: dict | None = None, gate=None) -> list[str]:
    """Queue ``message`` on every channel that sends its event, once the transaction commits.

    ``gate``, if given, is asked at commit time whether to send at all (the error rate limit), so a
    rolled-back transaction does not use up the window. Returns the channels it will be queued on.
    """
    channels = channels_for(message.event)
    if not channels:
        return []
    created_at = timezone.now().isoformat()
    context = {key: str(value) for key, value in (context or {}).items()}
    # One delivery per channel, and per hook for webhooks: each its own key, attempts and ledger row.
    targets = [(channel, None) for channel in channels if channel != Channel.WEBHOOK]
    if Channel.WEBHOOK in channels:
        targets += [(Channel.WEBHOOK.value, hook) for hook in webhooks_for(message.event)]

    def enqueue() -> None:
        try:
            if gate is not None and not gate():
                logger.info("notification muted", extra={"event": message.event, **context})
                return
            for channel, webhook in targets:
                deliver.apply_async(kwargs={
                    "key": str(uuid.uuid4()), "channel": channel, "event": message.event, "title": message.title,
                    "body": message.body, "created_at": created_at, "context": context,
                    **({"webhook": webhook} if webhook else {})})
        except Exception as error:  # noqa: BLE001 - broker or cache down: lose the message, not the trade
            logger.error("notification not queued: %s", redact(f"{type(error).__name__}: {error}"),
                         extra={"event": message.event, **context})

    transaction.on_commit(enqueue, robust=True)
    return channels


def mute_key(kind: str) -> str:
    # Word characters only: cache keys with spaces or control characters draw warnings.
    return f"notifications:error:{re.sub(r'[^A-Za-z0-9_.-]+', '_', kind)[:100]}"


def _first_in_window(kind: str) -> bool:
    # SET NX with expiry in the shared Redis cache: the first process to report ``kind`` wins the window.
    return cache.add(mute_key(kind), "1", timeout=ERROR_MUTE_SECONDS)


def _trade_context(trade) -> dict:
    return {"strategy": trade.strategy_id or "manual", "symbol": trade.symbol, "order_link_id": trade.order_link_id}
