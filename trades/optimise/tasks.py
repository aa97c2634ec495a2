"""The Celery tasks of an optimisation: one task per trial slot, and a watch that notices a study whose last
workers died. Every worker that shares the database and the broker takes trials; nothing else is needed.

Trials are acknowledged late and rejected when their worker is lost (the project's Celery settings), so a pool
process killed mid-trial has its task delivered again; the slot (``trades.optimise.slots``) makes that delivery
re-run the same Optuna trial rather than ask a new one. A whole worker killed keeps its message unacknowledged until
the broker's visibility timeout; the next ``dispatch`` (after any trial), the watch or the beat's minute-by-minute
watch queues its slot again as soon as its lease has run out.
"""

from __future__ import annotations

import logging
import socket

from celery import current_app, shared_task
from django.conf import settings
from django.core.cache import cache

from trades.optimise import slots
from trades.optimise.models import OptimisationRun
from trades.optimise.trials import run_slot
from trades.optimise.walkforward import finish_fold

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="trades.optimise.tasks.run_trial", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def run_trial(self, run_id: int, slot_id: int) -> str:
    """Run one trial slot (a delivery that finds it done or taken does nothing), then keep the study fed."""
    worker = self.request.hostname or f"local@{socket.gethostname()}"
    outcome = run_slot(slot_id, worker)
    keep_going(run_id)
    return outcome


@shared_task(name="trades.optimise.tasks.watch", ignore_result=True)
def watch(run_id: int) -> None:
    keep_going(run_id)


@shared_task(name="trades.optimise.tasks.watch_running", ignore_result=True)
def watch_running() -> int:
    """Beat's backstop, every minute: every running study gets a dispatch (cheap when nothing is wrong)."""
    running = list(OptimisationRun.objects.filter(status=OptimisationRun.Status.RUNNING).values_list("pk", flat=True))
    for run_id in running:
        keep_going(run_id)
    return len(running)


def keep_going(run_id: int) -> None:
    slots.dispatch(run_id, lambda slot_ids: send(run_id, slot_ids), finish_fold=finish_fold, watch=watch_later)


def default_queue() -> str:
    """The queue a study's tasks go to, chosen when it is launched (every worker that reads it takes trials)."""
    return current_app.conf.task_default_queue


def send(run_id: int, slot_ids: list[int]) -> None:
    queue = _queue(run_id)
    slots.send_each(slot_ids, lambda slot_id: run_trial.apply_async(args=[run_id, slot_id], queue=queue))


def _queue(run_id: int) -> str | None:
    found = OptimisationRun.objects.filter(pk=run_id).values_list("settings__queue", flat=True).first()
    return found or None


def watch_later(run_id: int) -> None:
    """One watch per run at a time, a lease from now (never when tasks run eagerly: nothing else runs then)."""
    if current_app.conf.task_always_eager:
        return
    seconds = settings.OPTIMISE_LEASE_SECONDS
    try:
        first = cache.add(f"optimise-watch:{run_id}", 1, timeout=seconds)
    except Exception:  # noqa: BLE001 - no cache: one watch too many is harmless
        first = True
    if first:
        watch.apply_async(args=[run_id], countdown=seconds + 1, queue=_queue(run_id))
