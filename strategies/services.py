"""Changes an operator makes to strategies, shared by the API, the pages and the admin.

Who may make them: the change permission (checked by each caller as its surface does), and for anything that
leaves a strategy active, ``core.security.activation_refusal``: the strategy trades on that person's
authority, and records them as its activator.
"""

import logging

from core.security import activation_refusal
from strategies.models import Strategy

logger = logging.getLogger(__name__)


def change_refusal(user, *, active_after: bool) -> str | None:
    """Why ``user`` may not save a change that leaves a strategy active (``active_after``), beyond the change
    permission; None when they may. Deactivating, and editing an inactive strategy, need nothing more."""
    return activation_refusal(user) if active_after else None


def set_active(strategy: Strategy, active: bool, *, by) -> bool:
    """Switch ``strategy`` on or off for the user ``by`` (from the next cycle; open positions are kept). True if
    it changed. The caller has checked ``change_refusal``.

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
