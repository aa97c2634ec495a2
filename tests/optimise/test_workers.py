"""Real Celery worker processes on the real Redis broker share a study, and a study outlives a worker SIGKILLed in
the middle of a trial: a fresh worker re-runs that same trial, so no trial is lost and none is counted twice."""

from __future__ import annotations

import os
import signal
import time
import uuid
from datetime import UTC, datetime

import pytest
from optuna.trial import TrialState

from tests.helpers import ManagedProcess, wait_until
from tests.optimise.conftest import forget_queue
from trades.optimise import study
from trades.optimise.commands import StudyRequest, launch_study
from trades.optimise.models import OptimisationRun, TrialSlot

pytestmark = pytest.mark.slow

LEASE = "3"


@pytest.fixture
def workers(database_url_of_test_db, tmp_path, settings):
    """Starts ``celery worker`` processes reading one queue of the real broker; this process queues to it."""
    queue = f"optimise-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.OPTIMISE_TRIALS_IN_FLIGHT, settings.OPTIMISE_LEASE_SECONDS = 2, int(LEASE)
    started = []

    def start(name: str, pool: str = "solo", wait: bool = True) -> ManagedProcess:
        env = dict(os.environ, DATABASE_URL=database_url_of_test_db, TRADEBOT_DATA_DIR=str(tmp_path),
                   OPTIMISE_LEASE_SECONDS=LEASE, OPTIMISE_TRIALS_IN_FLIGHT="2")
        pool_args = ["--pool", "solo"] if pool == "solo" else ["--pool", "prefork", "--concurrency", "1"]
        worker = ManagedProcess(["-m", "celery", "-A", "tradebot", "worker", "--loglevel", "INFO", *pool_args,
                                 "--queues", queue, "--hostname", f"{name}@%h", "--without-gossip",
                                 "--without-mingle", "--without-heartbeat"], env=env, name=name).start()
        started.append(worker)
        if wait:
            ready(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(10)
    forget_queue(queue)  # what is left there (a watch timer, the killed worker's message) concerns this test only


def ready(worker: ManagedProcess) -> ManagedProcess:
    wait_until(lambda: "ready." in worker.output(), timeout=40, what=f"{worker.name} to be ready",
               on_timeout=worker.output)
    return worker


def finished(run_id: int, *workers: ManagedProcess, timeout: float = 90) -> OptimisationRun:
    wait_until(lambda: OptimisationRun.objects.get(pk=run_id).finished, timeout=timeout, interval=0.2,
               what="the study to end", on_timeout=lambda: "\n".join(w.output()[-3000:] for w in workers))
    return OptimisationRun.objects.get(pk=run_id)


def assert_every_trial_once(run: OptimisationRun) -> None:
    """Per fold: exactly the requested trials, all complete, none running; one slot per trial, all done."""
    for fold in run.folds.all():
        trials = study.load(fold.study_name).get_trials(deepcopy=False)
        assert [t.state for t in trials] == [TrialState.COMPLETE] * run.settings["trials"]
        numbers = list(fold.slots.values_list("trial_number", flat=True))
        assert sorted(numbers) == [t.number for t in trials]  # each trial in exactly one slot
        assert set(fold.slots.values_list("state", flat=True)) == {"done"}


def test_a_worker_killed_mid_trial_loses_and_doubles_nothing_and_a_fresh_worker_finishes(make_strategy, workers):
    strategy = make_strategy(name="breakout", type="donchian_breakout", symbols=["BTCUSDT", "ETHUSDT"],
                             timeframe="15", is_active=False)
    victim = workers("victim")
    run = launch_study(None, StudyRequest(
        strategy_id=strategy.pk, start=datetime(2026, 4, 6, tzinfo=UTC), end=datetime(2026, 4, 18, tzinfo=UTC),
        trials=3, walk_forward=2, test_share=0.4, min_trades=0, seed=5,
        ranges={"channel": "10:40", "exit_channel": "5:20"}))

    # Mid-trial: its Optuna trial asked and recorded, its backtests running (half a second of work each).
    slot = wait_until(lambda: TrialSlot.objects.filter(run=run, state="running", worker__startswith="victim@")
                      .exclude(trial_number=None).first(), timeout=40, interval=0.01,
                      what="the victim to be inside a trial", on_timeout=victim.output)
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait(10)
    killed = TrialSlot.objects.get(pk=slot.pk)
    assert killed.state == "running" and killed.trial_number == slot.trial_number  # it died inside the trial

    fresh = workers("fresh")
    run = finished(run.pk, fresh)

    assert run.status == "done" and run.trials_done == run.trials_total == 6
    assert_every_trial_once(run)
    retried = TrialSlot.objects.get(pk=slot.pk)
    assert (retried.trial_number, retried.attempts, retried.state) == (slot.trial_number, 2, "done")
    assert retried.worker.startswith("fresh@")
    assert "optimisation trials queued again: their worker stopped" in fresh.output()
    assert [row["index"] for row in run.results["folds"]] == [0, 1]


def test_two_worker_processes_share_one_study(ema, workers):
    first, second = workers("alpha", pool="prefork", wait=False), workers("beta", pool="prefork", wait=False)
    ready(first), ready(second)
    run = launch_study(None, StudyRequest(
        strategy_id=ema.pk, start=datetime(2026, 4, 2, tzinfo=UTC), end=datetime(2026, 4, 12, tzinfo=UTC),
        trials=5, walk_forward=2, test_share=0.4, min_trades=0, ranges={"fast": "5:15", "slow": "25:60"}))
    started = time.monotonic()
    run = finished(run.pk, first, second)

    assert run.status == "done" and run.trials_done == 10, time.monotonic() - started
    assert_every_trial_once(run)
    names = set(TrialSlot.objects.filter(run=run).values_list("worker", flat=True))
    assert {name.split("@")[0] for name in names} == {"alpha", "beta"}
    asked_by = {t.user_attrs["worker"].split("@")[0] for fold in run.folds.all()
                for t in study.load(fold.study_name).get_trials(deepcopy=False)}
    assert asked_by == {"alpha", "beta"}
