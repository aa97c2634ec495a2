"""Per-strategy leases: two cycles never trade the same strategy at once."""

from __future__ import annotations

import os
import socket
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.utils import timezone

from trades.models import StrategyLease


def new_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(strategy_id: int, owner: str, seconds: int) -> bool:
    now = timezone.now()
    StrategyLease.objects.get_or_create(strategy_id=strategy_id, defaults={"expires_at": now - timedelta(seconds=1)})
    claimed = StrategyLease.objects.filter(strategy_id=strategy_id, expires_at__lte=now).update(
        owner=owner, expires_at=now + timedelta(seconds=seconds))
    return claimed == 1


def release(strategy_id: int, owner: str) -> None:
    StrategyLease.objects.filter(strategy_id=strategy_id, owner=owner).update(expires_at=timezone.now())


@contextmanager
def strategy_lease(strategy_id: int, seconds: int, owner: str | None = None):
    """Yields True while holding the strategy's lease, False if another cycle holds it."""
    owner = owner or new_owner()
    held = acquire(strategy_id, owner, seconds)
    try:
        yield held
    finally:
        if held:
            release(strategy_id, owner)
