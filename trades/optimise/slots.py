"""Which trials are queued, which are running where, and which are done: the bookkeeping that lets any number of
workers share a study and lets a study outlive a worker.

A slot goes new -> queued (its task is on the broker) -> running (a worker claimed it: ``claim``) -> done. Claiming
is one locked read-and-write, so of two deliveries of one task (a redelivery, a resume) only one runs the slot. A
running slot whose worker stopped giving signs of life for ``OPTIMISE_LEASE_SECONDS`` (its heartbeat), or whose
process is gone from this machine, is *abandoned*: ``dispatch`` queues it again and the next worker re-runs the same
Optuna trial (the slot keeps its number), so nothing is lost or counted twice.

``dispatch`` keeps ``OPTIMISE_TRIALS_IN_FLIGHT`` slots of a run queued or running: it runs after each trial, so
every worker that shares the database and the broker keeps the study fed, and a short queue leaves the trading
cycle's tasks little to wait behind.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from trades.optimise.models import OptimisationFold, OptimisationRun, TrialSlot

logger = logging.getLogger(__name__)

HOST = socket.gethostname()
State = TrialSlot.State

_sending = threading.local()


def lease() -> timedelta:
    return timedelta(seconds=settings.OPTIMISE_LEASE_SECONDS)


def abandoned(slot: TrialSlot, now) -> bool:
    """A running slot nobody is running any more: no heartbeat within the lease, or its process gone from here."""
    if slot.heartbeat_at is None or slot.heartbeat_at < now - lease():
        return True
    return slot.host == HOST and slot.pid is not None and slot.pid != os.getpid() and not _alive(slot.pid)


def claim(slot_id: int, worker: str) -> TrialSlot | None:
    """Take the slot for this process; None when it is done or another live worker runs it."""
    now = timezone.now()
    with transaction.atomic():
        slot = TrialSlot.objects.select_for_update().filter(pk=slot_id).first()
        if slot is None or slot.state == State.DONE:
            return None
        if slot.state == State.RUNNING and not abandoned(slot, now):
            return None
        if slot.state == State.RUNNING:
            logger.warning("optimisation trial taken over", extra={
                "optimisation": slot.run_id, "slot": slot.number, "from_worker": slot.worker, "worker": worker})
        slot.state, slot.worker, slot.host, slot.pid = State.RUNNING, worker[:255], HOST, os.getpid()
        slot.heartbeat_at, slot.attempts = now, slot.attempts + 1
        slot.save(update_fields=["state", "worker", "host", "pid", "heartbeat_at", "attempts"])
    return slot


def heartbeat(slot_id: int) -> Callable[[], None]:
    """A function to call as the work goes on: it renews the slot's lease at most every quarter lease."""
    every = lease() / 4
    last = [timezone.now()]

    def beat() -> None:
        now = timezone.now()
        if now - last[0] >= every:
            last[0] = now
            TrialSlot.objects.filter(pk=slot_id, state=State.RUNNING, host=HOST, pid=os.getpid()).update(
                heartbeat_at=now)

    return beat


def finish(slot: TrialSlot, **fields) -> bool:
    """Record the slot's result; False when another worker that took it over recorded it first."""
    return bool(TrialSlot.objects.filter(pk=slot.pk, state=State.RUNNING).update(
        state=State.DONE, finished_at=timezone.now(), **fields))


def dispatch(run_id: int, send: Callable[[list[int]], None], *, finish_fold: Callable[[OptimisationFold], None],
             watch: Callable[[int], None] | None = None) -> None:
    """Queue abandoned slots again and new ones up to the window, finish folds whose trials are all done, and
    ``watch`` the run later when only other workers' trials are left (so a worker that dies with the last ones is
    noticed even if nothing else runs)."""
    now = timezone.now()
    with transaction.atomic():
        # One dispatcher at a time per run (the row lock): two would fill the window twice.
        if OptimisationRun.objects.select_for_update().filter(
                pk=run_id, status=OptimisationRun.Status.RUNNING).only("pk").first() is None:
            return
        running = list(TrialSlot.objects.filter(run_id=run_id, state=State.RUNNING))
        lost = [slot.pk for slot in running if abandoned(slot, now)]
        TrialSlot.objects.filter(pk__in=lost, state=State.RUNNING).update(state=State.QUEUED, queued_at=now)
        in_flight = TrialSlot.objects.filter(run_id=run_id, state__in=[State.QUEUED, State.RUNNING]).count()
        room = max(0, settings.OPTIMISE_TRIALS_IN_FLIGHT - in_flight)
        fresh = list(TrialSlot.objects.filter(run_id=run_id, state=State.NEW)
                     .order_by("fold__index", "number").values_list("pk", flat=True)[:room])
        TrialSlot.objects.filter(pk__in=fresh).update(state=State.QUEUED, queued_at=now)
        if lost or fresh:
            transaction.on_commit(lambda: send([*lost, *fresh]))
    if lost:
        logger.warning("optimisation trials queued again: their worker stopped",
                       extra={"optimisation": run_id, "slots": len(lost)})
    for fold in ready_folds(run_id):
        finish_fold(fold)
    others = len(running) - len(lost)
    if watch is not None and others and not fresh and not lost:
        watch(run_id)


def ready_folds(run_id: int) -> list[OptimisationFold]:
    """Folds whose trials are all done but which are not finished yet."""
    return list(OptimisationFold.objects.filter(run_id=run_id, status=OptimisationFold.Status.RUNNING)
                .exclude(slots__state__in=[State.NEW, State.QUEUED, State.RUNNING]))


def requeue_waiting(run_id: int, send: Callable[[list[int]], None]) -> int:
    """Send every queued slot's task again (a resume: the broker may have lost them, e.g. a Redis restarted without
    persistence). A slot whose first message still arrives is claimed once: the other delivery finds it taken."""
    waiting = list(TrialSlot.objects.filter(run_id=run_id, state=State.QUEUED).values_list("pk", flat=True))
    if waiting:
        transaction.on_commit(lambda: send(waiting))
    return len(waiting)


def send_each(slot_ids: list[int], enqueue: Callable[[int], None]) -> None:
    """``enqueue`` every slot; when called again from inside one of them (tasks run eagerly, in this thread) the
    outer loop takes the new ones, so a long study never nests a call per trial."""
    pending = getattr(_sending, "pending", None)
    if pending is not None:
        pending.extend(slot_ids)
        return
    _sending.pending = list(slot_ids)
    try:
        while _sending.pending:
            enqueue(_sending.pending.pop(0))
    finally:
        _sending.pending = None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine still runs (a zombie, killed but not yet reaped, does not)."""
    proc = Path("/proc")
    if proc.is_dir():
        try:
            return "\nState:\tZ" not in (proc / str(pid) / "status").read_text()
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
