"""Trials run by this process (and children forked from it) instead of Celery workers: ``manage.py optimise
--local N``. The children claim slots like workers do, so Celery workers running at the same time share the work.
"""

from __future__ import annotations

import os
import socket
from multiprocessing import get_context

from django.db import connections

from trades.optimise import slots
from trades.optimise.models import OptimisationRun, TrialSlot
from trades.optimise.trials import run_slot
from trades.optimise.walkforward import finish_fold


def drain(run_id: int, worker: str) -> int:
    """Run slots of the run until none is left to take; the number this process ran."""
    ran = 0
    while OptimisationRun.objects.filter(pk=run_id, status=OptimisationRun.Status.RUNNING).exists():
        took = False
        for slot_id in _candidates(run_id):
            if run_slot(slot_id, worker) != "taken":
                ran, took = ran + 1, True
                break
        for fold in slots.ready_folds(run_id):
            finish_fold(fold)
        if not took:
            return ran
    return ran


def start(run_id: int, processes: int) -> list:
    """``processes`` forked children draining the run; join them (``Process.join``) to wait."""
    connections.close_all()  # the children must not share this process's database connections
    context = get_context("fork")
    children = [context.Process(target=_child, args=(run_id, index), daemon=True) for index in range(processes)]
    for child in children:
        child.start()
    return children


def _child(run_id: int, index: int) -> None:
    try:
        drain(run_id, f"local-{index}@{socket.gethostname()}:{os.getpid()}")
    finally:
        connections.close_all()


def _candidates(run_id: int) -> list[int]:
    return list(TrialSlot.objects.filter(run_id=run_id, state__in=[TrialSlot.State.NEW, TrialSlot.State.QUEUED])
                .order_by("fold__index", "number").values_list("pk", flat=True)[:16])
