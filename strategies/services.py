"""Changes an operator makes to strategies, shared by the API, the pages and the admin."""

import logging

from strategies.models import Strategy

logger = logging.getLogger(__name__)


def set_active(strategy: Strategy, active: bool, *, by: str) -> bool:
    """Switch ``strategy`` on or off (from the next cycle; open positions are kept). True if it changed.

    Activating does not lift a daily-loss pause: that ends on its own at the start of the next day.
    """
    if strategy.is_active == active:
        return False
    strategy.is_active = active
    strategy.save(update_fields=["is_active", "updated_at"])
    logger.info("strategy %s", "activated" if active else "deactivated", extra={"strategy": strategy.name, "user": by})
    return True
