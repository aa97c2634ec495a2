"""The bookkeeping that lets workers share a study and a study outlive a worker: a slot is claimed by one process at
a time, taken over only from a worker that is gone, and a taken-over slot re-runs its own trial, never a new one."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from optuna.trial import TrialState

from trades.optimise import slots, study, trials
from trades.optimise.commands import launch_study
from trades.optimise.models import OptimisationFold, TrialSlot

pytestmark = pytest.mark.django_db
State = TrialSlot.State


@pytest.fixture
def quiet_run(ask, django_capture_on_commit_callbacks):
    """A launched study whose trials were never queued (its on-commit start did not run): the test drives it."""
    with django_capture_on_commit_callbacks(execute=False):
        return launch_study(None, ask(trials=3))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def age(slot: TrialSlot, seconds: int = 3600) -> None:
    TrialSlot.objects.filter(pk=slot.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def test_a_slot_is_claimed_once_and_a_done_one_never(quiet_run):
    slot = quiet_run.slots.first()
    claimed = slots.claim(slot.pk, "worker-a")
    assert (claimed.state, claimed.worker, claimed.attempts) == (State.RUNNING, "worker-a", 1)
    assert slots.claim(slot.pk, "worker-b") is None  # alive (this very process), within its lease
    slots.finish(claimed, outcome="complete")
    age(claimed)
    assert slots.claim(slot.pk, "worker-b") is None


def test_a_slot_is_taken_over_when_its_worker_is_gone_or_silent_past_the_lease(quiet_run, settings):
    settings.OPTIMISE_LEASE_SECONDS = 60
    first, second = quiet_run.slots.order_by("number")[:2]
    TrialSlot.objects.filter(pk=first.pk).update(state=State.RUNNING, host=slots.HOST, pid=dead_pid(),
                                                 heartbeat_at=timezone.now(), attempts=1)
    assert slots.claim(first.pk, "worker-b").attempts == 2  # its process is gone from this machine: at once
    TrialSlot.objects.filter(pk=second.pk).update(state=State.RUNNING, host="elsewhere", pid=1, attempts=1,
                                                  heartbeat_at=timezone.now() - timedelta(seconds=30))
    assert slots.claim(second.pk, "worker-b") is None  # another machine's, 30 s silent: still its own
    age(second, 61)
    assert slots.claim(second.pk, "worker-b").worker == "worker-b"


def test_a_trial_asked_by_a_worker_that_died_is_rerun_not_asked_again(quiet_run):
    slot = slots.claim(quiet_run.slots.order_by("number").first().pk, "worker-a")
    fold = slot.fold
    the_study = study.load(fold.study_name)
    number, params = trials.ask(the_study, trials.Space.from_dict(quiet_run.settings["space"]), slot, "worker-a")
    TrialSlot.objects.filter(pk=slot.pk).update(trial_number=number, params=params)
    age(slot)  # worker-a died mid-backtest

    assert trials.run_slot(slot.pk, "worker-b") == "complete"
    slot.refresh_from_db()
    [trial] = study.load(fold.study_name).get_trials()
    assert (trial.number, trial.state, trial.params) == (number, TrialState.COMPLETE, params)
    assert (slot.trial_number, slot.attempts, slot.worker, slot.state) == (number, 2, "worker-b", State.DONE)


def test_a_trial_asked_but_never_recorded_is_adopted_by_the_retry(quiet_run):
    slot = slots.claim(quiet_run.slots.order_by("number").first().pk, "worker-a")
    the_study = study.load(slot.fold.study_name)
    asked, _ = trials.ask(the_study, trials.Space.from_dict(quiet_run.settings["space"]), slot, "worker-a")
    age(slot)  # died between Optuna's answer and the slot's row

    trials.run_slot(slot.pk, "worker-b")
    assert [(t.number, t.state) for t in study.load(slot.fold.study_name).get_trials()] == [
        (asked, TrialState.COMPLETE)]


def test_dispatch_keeps_the_window_full_and_queues_a_lost_slot_again(quiet_run, settings,
                                                                    django_capture_on_commit_callbacks):
    settings.OPTIMISE_TRIALS_IN_FLIGHT = 2
    sent, finished, watched = [], [], []

    def dispatch():  # the tasks are sent once the slots' new state is committed
        with django_capture_on_commit_callbacks(execute=True):
            slots.dispatch(quiet_run.pk, sent.append, finish_fold=finished.append, watch=watched.append)

    dispatch()
    first, second, third = quiet_run.slots.order_by("number")
    assert sent == [[first.pk, second.pk]] and not finished
    dispatch()
    assert len(sent) == 1  # two in flight already
    slots.claim(first.pk, "worker-a")
    age(first)
    dispatch()
    assert sent[-1] == [first.pk]  # lost: queued again, and nothing new while the window is full
    for slot in (first, second, third):
        slot = slots.claim(slot.pk, "worker-b")
        slots.finish(slot, outcome="complete")
    dispatch()
    assert [fold.pk for fold in finished] == list(OptimisationFold.objects.filter(run=quiet_run)
                                                  .values_list("pk", flat=True))


def test_dispatch_watches_a_run_whose_only_trials_are_another_workers(quiet_run, settings):
    settings.OPTIMISE_TRIALS_IN_FLIGHT = 1
    watched = []
    for slot in quiet_run.slots.order_by("number")[:2]:
        slots.finish(slots.claim(slot.pk, "worker-b"), outcome="complete")
    TrialSlot.objects.filter(run=quiet_run, state=State.NEW).update(state=State.RUNNING, host="elsewhere", pid=1,
                                                                   heartbeat_at=timezone.now())
    slots.dispatch(quiet_run.pk, lambda ids: None, finish_fold=lambda fold: None, watch=watched.append)
    assert watched == [quiet_run.pk]


def test_sending_from_inside_a_send_takes_turns_instead_of_nesting():
    order = []

    def enqueue(slot_id):
        order.append(slot_id)
        if slot_id < 50:
            slots.send_each([slot_id + 10], enqueue)  # what an eager task's own dispatch does

    slots.send_each([1, 2], enqueue)
    assert order == [1, 2, 11, 12, 21, 22, 31, 32, 41, 42, 51, 52]
