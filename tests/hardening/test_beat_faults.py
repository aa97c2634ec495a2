"""Beat firing twice in the same minute, in process: the real Celery tasks (run eagerly, sub-tasks included)
on two threads at once, against the fake Bybit through the exchange the settings build.

- two ``run_active_strategies`` at once: two reconciliations and two ``run_strategy`` per strategy race;
- the same ``run_strategy`` sub-task delivered twice (a redelivery while the first is still running).
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from exchange.factory import get_exchange, reset_exchange
from tests.hardening.faults import RunResult, run_seed, runs, settle
from tests.hardening.scenario import START_BALANCE, open_market
from trades.models import CycleRun
from trades.tasks import run_active_strategies, run_strategy

FAULTS = {
    "8 beat fired twice at once (in process)":
        lambda strategy, run: run_active_strategies.apply(kwargs={"trigger": "beat"}),
    "8 the same sub-task delivered twice": lambda strategy, run: run_strategy.apply(args=[strategy.pk, run.pk]),
}


@pytest.fixture
def tasks_in_process(settings):
    """The tasks run where they are called, sub-tasks too, and build their exchange from these settings.
    (Through Django's settings, never ``app.conf``: a value set there would shadow them for later tests.)"""
    settings.EXCHANGE_MODE = "testnet"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    yield settings
    reset_exchange()


@pytest.mark.parametrize("fault", list(FAULTS))
def test_two_deliveries_at_once_place_each_order_once(fault, chaos_run, tasks_in_process, fault_table):
    deliver = FAULTS[fault]
    figures = fault_table.figures(fault)
    for index in range(runs(5)):
        seed = run_seed(fault_table.seed, fault, index)
        with chaos_run(seed) as (fake, _, rng):
            tasks_in_process.BYBIT_API_KEY, tasks_in_process.BYBIT_API_SECRET = fake.api_key, fake.api_secret
            tasks_in_process.BYBIT_BASE_URL = fake.url
            reset_exchange()
            fake.latency = rng.uniform(0, 0.01)
            strategy = open_market(fake, rng)
            run = CycleRun.objects.create(trigger="beat")
            delay = rng.uniform(0, 0.05)
            started = time.monotonic()
            errors = _twice(lambda s=strategy, r=run: deliver(s, r), delay)
            findings, recovery, beats, settle_errors = settle(fake, get_exchange(), START_BALANCE, fault_at=started)
            figures.add(RunResult(fault, seed, f"two deliveries {delay * 1000:.0f} ms apart", True, findings,
                                  recovery, beats, errors + settle_errors))

    assert figures.orders > 0
    assert (figures.duplicates, figures.lost, figures.unsettled, figures.errors) == (0, 0, 0, 0), figures.problems()


def _twice(call, delay: float) -> list[str]:
    errors: list[str] = []

    def deliver(wait: float):
        time.sleep(wait)
        try:
            result = call()
            if result.failed():
                errors.append(f"task failed: {result.result!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(wait,)) for wait in (0, delay)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors
