"""The command layer for strategies: activate, deactivate, pause, resume and delete, one function each, shared by
the API, the pages, the admin and chat.

Who may make them: the change permission, and for anything that leaves a strategy active,
``core.security.activation_refusal``: the strategy trades on that person's authority, and records them as its
activator. Activating also needs the strategy to pass the look-ahead and warm-up check (``strategies.checks``).
Refusals are ``core.errors`` domain errors.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.security import activation_refusal, permission_refusal
from strategies.checks import refuse_unless_checked
from strategies.models import Strategy

CHANGE = "strategies.change_strategy"

logger = logging.getLogger(__name__)


def change_refusal(user, *, active_after: bool) -> str | None:
    """Why ``user`` may not save a change that leaves a strategy active (``active_after``), beyond the change
    permission; None when they may. Deactivating, and editing an inactive strategy, need nothing more."""
    return activation_refusal(user) if active_after else None


def set_active(strategy: Strategy, active: bool, *, by) -> bool:
    """Switch ``strategy`` on or off for the user ``by`` (from the next cycle; open positions are kept). True if
    it changed. The caller has checked ``change_refusal`` and, activating, the check (``refuse_unless_checked``).

    Activating an active strategy changes nothing but its activator: the person who says so takes it over (the way
    to let a strategy activated before activators were recorded trade off paper again). Activating does not lift a
    daily-loss pause: that ends on its own at the start of the next day.
    """
    changed = strategy.is_active != active
    if not changed and (not active or strategy.activated_by_id == by.pk):
        return False
    if active:
        strategy.activated_by = by
    strategy.is_active = active
    strategy.save(update_fields=["is_active", "updated_at", *(["activated_by"] if active else [])])
    if changed:
        logger.info("strategy %s", "activated" if active else "deactivated",
                    extra={"strategy": strategy.name, "user": by.get_username()})
    return changed


def switch(user, strategy_id: int, active: bool) -> Strategy:
    """Activate or deactivate a strategy from the next cycle (open positions are kept)."""
    refusal = permission_refusal(user, CHANGE) or change_refusal(user, active_after=active)
    if refusal:
        raise Forbidden(refusal)
    strategy = _strategy(strategy_id)
    if active:
        refuse_unless_checked(strategy.type, strategy.indicators)
    set_active(strategy, active, by=user)
    return strategy


def pause(user, strategy_id: int, *, until: datetime | None = None, reason: str = "") -> Strategy:
    """No new entries until ``until`` (None: until resumed); open trades stay managed (stops, reconciliation)."""
    refusal = permission_refusal(user, CHANGE)
    if refusal:
        raise Forbidden(refusal)
    now = timezone.now()
    if until is not None and until <= now:
        raise Invalid(f"The pause must end in the future (it is {now:%Y-%m-%d %H:%M} UTC now).", field="until")
    strategy = _strategy(strategy_id)
    strategy.paused_until = until or Strategy.PAUSED_INDEFINITELY
    strategy.pause_reason = reason or f"paused by {user.get_username()}"
    strategy.save(update_fields=["paused_until", "pause_reason", "updated_at"])
    logger.info("strategy paused", extra={"strategy": strategy.name, "user": user.get_username(),
                                          "reason": strategy.pause_reason})
    return strategy


def resume(user, strategy_id: int) -> Strategy:
    """Lift a pause (a person's, or the daily-loss limit's) at once."""
    refusal = permission_refusal(user, CHANGE)
    if refusal:
        raise Forbidden(refusal)
    strategy = _strategy(strategy_id)
    strategy.paused_until, strategy.pause_reason = None, ""
    strategy.save(update_fields=["paused_until", "pause_reason", "updated_at"])
    logger.info("strategy resumed", extra={"strategy": strategy.name, "user": user.get_username()})
    return strategy


def delete(user, strategy: Strategy) -> None:
    """Delete a strategy that never traded. Trades keep their strategy (PROTECT): the history must say which rules
    opened them, so one with trades is refused; deactivate it instead."""
    refusal = permission_refusal(user, "strategies.delete_strategy")
    if refusal:
        raise Forbidden(refusal)
    trades = strategy.trades.count()
    if trades:
        raise Conflict(_has_trades(strategy, trades))
    try:
        with transaction.atomic():
            strategy.delete()
    except ProtectedError as error:  # a trade was opened between the count and the delete
        raise Conflict(_has_trades(strategy, len(error.protected_objects))) from None
    logger.info("strategy deleted", extra={"strategy": strategy.name, "user": user.get_username()})


def _has_trades(strategy: Strategy, count: int) -> str:
    return f"Strategy \"{strategy.name}\" has {count} trade{'s' if count != 1 else ''}; deactivate it instead."


def _strategy(strategy_id: int) -> Strategy:
    strategy = Strategy.objects.filter(pk=strategy_id).first()
    if strategy is None:
        raise NotFound(f"There is no strategy {strategy_id}.")
    return strategy
