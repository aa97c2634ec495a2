"""Per-strategy leases: two cycles never trade the same strategy at once.

A lease is claimed with a filtered UPDATE that succeeds for exactly one caller (PostgreSQL and SQLite
alike) and expires on its own after ``seconds``. A lease whose holder died on this very host (a
worker killed mid-cycle) is taken over at once instead of blocking the strategy until it expires.
"""

from __future__ import annotations

import os
import socket
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.utils import timezone

from trades.models import StrategyLease

HOST = socket.gethostname()[:30]


def new_owner() -> str:
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(strategy_id: int, owner: str, seconds: int) -> bool:
    now = timezone.now()
    StrategyLease.objects.get_or_create(strategy_id=strategy_id, defaults={"expires_at": now - timedelta(seconds=1)})
    claim = {"owner": owner, "expires_at": now + timedelta(seconds=seconds)}
    if StrategyLease.objects.filter(strategy_id=strategy_id, expires_at__lte=now).update(**claim) == 1:
        return True
    holder = StrategyLease.objects.filter(strategy_id=strategy_id).values_list("owner", flat=True).first()
    if holder and _died_here(holder):
        return StrategyLease.objects.filter(strategy_id=strategy_id, owner=holder).update(**claim) == 1
    return False


def release(strategy_id: int, owner: str) -> None:
    StrategyLease.objects.filter(strategy_id=strategy_id, owner=owner).update(expires_at=timezone.now())


def _died_here(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


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
