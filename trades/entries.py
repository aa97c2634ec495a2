"""The command layer for the bot-wide entry switch: stop new entries (``/stopentry``, ``POST /api/bot/entries``) and
allow them again, one function each, shared by the API and chat.

Stopped, the cycle refuses every new entry (``TradingCycle._pre_checks``) and nothing else changes: open trades keep
their stop-loss and take-profit on the exchange, reconciliation and time exits go on, strategies stay as they are.

Who may: the order permission. Stopping is the panic button, so nothing else stands in its way (not the live trading
switch, not the order rate limit); allowing entries again lets the bot trade real money, so off paper it also needs
the person's live trading switch, as placing an order does.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from core.errors import Forbidden, Invalid
from core.events import Event, publish
from core.security import TRADE_ORDERS, live_trading_refusal, permission_refusal
from trades.models import EntrySwitch
from trades.queries import bot_status

logger = logging.getLogger(__name__)

REASON_LIMIT = 200


def entries_stopped() -> str | None:
    """Why new entries are stopped ("<reason> (by <user>)"), or None when the bot may enter."""
    return EntrySwitch.stopped_reason()


def stop_entries(user, reason: str = "") -> EntrySwitch:
    """No new entries from the next cycle on, until ``start_entries``; open trades stay managed."""
    refusal = permission_refusal(user, TRADE_ORDERS)
    if refusal:
        _refused(user, refusal)
    reason = " ".join((reason or "").split())
    if len(reason) > REASON_LIMIT:
        raise Invalid(f"The reason is {len(reason)} characters long; at most {REASON_LIMIT}.", field="reason")
    return _set(user, stopped=True, reason=reason)


def start_entries(user) -> EntrySwitch:
    """New entries allowed again from the next cycle on."""
    refusal = permission_refusal(user, TRADE_ORDERS) or live_trading_refusal(user)
    if refusal:
        _refused(user, refusal)
    return _set(user, stopped=False, reason="")


def _set(user, *, stopped: bool, reason: str) -> EntrySwitch:
    with transaction.atomic():
        switch, _ = EntrySwitch.objects.select_for_update().get_or_create(pk=EntrySwitch.ONLY_ID)
        switch.stopped, switch.reason = stopped, reason
        switch.changed_by, switch.changed_at = user, timezone.now()
        switch.save()
        publish(Event.BOT_STATUS, bot_status())  # every open dashboard's status line says so (after commit)
    logger.info("new entries %s", "stopped" if stopped else "allowed again",
                extra={"user": user.get_username(), "reason": reason})
    return switch


def _refused(user, refusal: str) -> None:
    logger.warning("entry switch refused: %s", refusal, extra={"user": user.get_username()})
    raise Forbidden(refusal)
