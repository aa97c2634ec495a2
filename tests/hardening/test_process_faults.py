"""Process-level faults, with real Celery worker processes trading on the fake Bybit: PostgreSQL connections
killed mid-cycle, Redis restarted, a worker (or its pool process) SIGKILLed mid-cycle, beat firing twice
with two workers on one queue.

The fake exchange lives for the whole test, as a real one would: each run adds a strategy (new signal,
new orderLinkIds) and the invariants are checked over everything so far. A run: arm the fault for a random
moment of the cycle (a random request, or just after the exchange took an order), fire the beat, fire the
next beat once the fault struck, then wait for the database and the exchange to agree. Between runs the
positions are closed through their stop-losses so the next run can trade the same symbols.
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from tests.hardening.chaos import ORDER_CREATE, ChaosBybit
from tests.hardening.faults import BEAT_SECONDS, RunResult, no_sleep, run_seed, runs
from tests.hardening.invariants import check
from tests.hardening.processes import (
    PrivateRedis,
    kill_database_connections,
    pool_child,
    ready,
    start_worker,
)
from tests.hardening.scenario import START_BALANCE, open_market
from tradebot.celery import app
from trades.models import LIVE_STATUSES, Trade
from trades.reconcile import reconcile
from trades.tasks import run_active_strategies

pytestmark = pytest.mark.slow

SETTLE_TIMEOUT = 45
# Requests every beat makes at least (the reconciliation's position list, then the cycle of a two-symbol
# strategy whose instrument rules are cached): a moment among them comes in the first beat for sure.
BEAT_REQUESTS = 14
RECEIVED = re.compile(r"Task [\w.]+\[([0-9a-f-]{36})\] received")
FINISHED = re.compile(r"Task [\w.]+\[([0-9a-f-]{36})\] (?:succeeded|raised|failed|retry)|"
                      r"Discarding revoked task: [\w.]+\[([0-9a-f-]{36})\]")


class Bot:
    """The fake exchange, and the worker processes (and their queue and broker) that trade on it."""

    def __init__(self, fake: ChaosBybit, workers: list, broker_url: str | None = None):
        self.fake, self.workers = fake, workers
        self.queue = workers[0].queue
        self.broker_url = broker_url or settings.CELERY_BROKER_URL

    def beat(self) -> None:
        with app.connection_for_write(self.broker_url) as connection:
            run_active_strategies.apply_async(kwargs={"trigger": "beat"}, queue=self.queue, connection=connection)

    def idle(self) -> bool:
        """Nothing queued, nothing received and not finished, in any living worker."""
        try:
            if redis.Redis.from_url(self.broker_url, socket_timeout=2).llen(self.queue):
                return False
        except redis.RedisError:
            return False
        for worker in self.workers:
            if worker.process.poll() is not None:
                continue
            output = worker.output()
            finished = {match[0] or match[1] for match in FINISHED.findall(output)}
            if set(RECEIVED.findall(output)) - finished:
                return False
        return True

    def tail(self, lines: int = 40) -> str:
        """The end of each worker's log, for a run that went wrong."""
        return "\n".join(f"--- {worker.name} (exit {worker.process.poll()}) ---\n"
                         + "".join(worker.output().splitlines(keepends=True)[-lines:]) for worker in self.workers)


def arm_at_random_moment(fake: ChaosBybit, rng: random.Random, action: Callable[[], None]) -> str:
    """Half the time just after the exchange accepted an entry order, otherwise before a random request."""
    if rng.random() < 0.5:
        nth = rng.randint(1, 2)
        fake.on_request(action, path=ORDER_CREATE, nth=nth, after=True)
        return f"just after the exchange took entry order #{nth}"
    nth = rng.randint(1, BEAT_REQUESTS)
    fake.on_request(action, nth=nth)
    return f"at request #{nth} of the beat"


def process_run(bot: Bot, fault: str, seed: int, arm: Callable[[random.Random], str], *,
                after_fault: Callable[[], None] = lambda: None,
                fire_beat: Callable[[], None] | None = None) -> RunResult:
    rng = random.Random(seed)
    strategy = open_market(bot.fake, rng)
    orders_before = check(bot.fake, START_BALANCE).orders
    bot.fake.disarm()
    plan = arm(rng)
    (fire_beat or bot.beat)()
    fired = wait_for(lambda: bot.fake.fault_at is not None, timeout=20, unless=bot.idle) is not None
    beats, settled_at = 1, None
    if fired:
        after_fault()
        bot.beat()  # the next beat
        settled_at = wait_for(bot.idle, timeout=SETTLE_TIMEOUT, steady=True)
        if settled_at is not None and not check(bot.fake, START_BALANCE).agree:
            # What is left waits for the clock (an order that never reached the exchange is given up after a
            # minute, a position is re-protected once its cycle has surely given up): the beat after next,
            # a minute later, is simulated by running its reconciliation here with the clock moved on.
            reconcile(bot.fake.exchange(sleep=no_sleep), now=timezone.now() + timedelta(seconds=BEAT_SECONDS))
            beats += 1
            settled_at = time.monotonic() + BEAT_SECONDS
        if not check(bot.fake, START_BALANCE).agree:
            settled_at = None
    findings = check(bot.fake, START_BALANCE)
    findings.orders -= orders_before
    errors = [] if fired and settled_at is not None else [bot.tail()]
    recovery = None if settled_at is None else settled_at - bot.fake.fault_at
    bot.fake.disarm()
    strategy.is_active = False
    strategy.save(update_fields=["is_active"])
    close_everything(bot)
    return RunResult(fault, seed, plan, fired, findings, recovery, beats, errors)


def close_everything(bot: Bot) -> None:
    """Every position runs into its stop-loss; the reconciler records the exits (so the next run can trade)."""
    fake = bot.fake
    with fake.state.lock:
        stops = [(p.symbol, p.side, p.stop_loss) for p in fake.state.positions.values() if p.size and p.stop_loss]
    for symbol, side, stop in stops:
        fake.set_price(symbol, stop * (Decimal("0.999") if side == "Buy" else Decimal("1.001")))
    exchange = fake.exchange(sleep=no_sleep)

    def all_closed() -> bool:
        reconcile(exchange, sleep=no_sleep)
        return bot.idle() and not Trade.objects.filter(status__in=LIVE_STATUSES).exists()

    if wait_for(all_closed, timeout=20) is None:
        live = [f"{t.pk} {t.order_link_id} {t.status} {t.status_reason}" for t in Trade.objects.filter(
            status__in=LIVE_STATUSES)]
        raise AssertionError("\n".join(["positions left open:", *live, *check(fake, START_BALANCE).lines(),
                                         f"idle: {bot.idle()}", bot.tail(80)]))


def wait_for(condition, timeout: float, *, unless=None, steady: bool = False) -> float | None:
    """The time ``condition`` first held (``steady``: held on two polls in a row), or None after ``timeout`` or
    once ``unless`` holds on two polls in a row."""
    deadline, held_since, unless_seen = time.monotonic() + timeout, None, False
    while time.monotonic() < deadline:
        now = time.monotonic()
        if condition():
            if not steady or held_since is not None:
                return held_since or now
            held_since = now
        else:
            held_since = None
            if unless is not None:
                idle = unless()
                if idle and unless_seen:
                    return None
                unless_seen = idle
        time.sleep(0.05)
    return None


@pytest.fixture(scope="module")
def exchange_server():
    """One fake Bybit for the module, so that workers started against it can serve several tests."""
    with ChaosBybit() as server:
        yield server


@pytest.fixture
def fake(exchange_server, transactional_db):
    exchange_server.reset(START_BALANCE)
    return exchange_server


def stop_all(started: list) -> None:
    """Idle by now: killed outright (their process groups, pool processes included), which loses nothing
    and spares the seconds a Celery shutdown takes."""
    for worker in started:
        if worker.process.poll() is None:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(10)


@pytest.fixture(scope="module")
def worker_pair(exchange_server, django_db_setup, tmp_path_factory):
    """Two solo workers on one queue, for the tests that break something other than the workers."""
    data_dir = tmp_path_factory.mktemp("workers")
    first = start_worker(fake=exchange_server, queue=f"faults-{uuid.uuid4().hex[:8]}", data_dir=data_dir,
                         name="worker-a", wait=False)
    second = start_worker(fake=exchange_server, queue=first.queue, data_dir=data_dir, name="worker-b", wait=False)
    pair = [ready(first), ready(second)]
    yield pair
    stop_all(pair)


@pytest.fixture
def workers(tmp_path):
    started = []

    def start(fake, **options):
        options.setdefault("queue", f"faults-{uuid.uuid4().hex[:8]}")
        worker = start_worker(fake=fake, data_dir=tmp_path, **options)
        started.append(worker)
        return worker

    yield start
    stop_all(started)


def record(fault_table, fault: str, results: list[RunResult]):
    figures = fault_table.figures(fault)
    for result in results:
        figures.add(result)
    assert figures.orders > 0
    assert (figures.duplicates, figures.lost, figures.unsettled, figures.fired) == (0, 0, 0, figures.runs), (
        figures.problems())


def test_postgresql_connections_killed_mid_cycle(fake, worker_pair, fault_table):
    fault = "5 PostgreSQL connections killed mid-cycle"
    bot = Bot(fake, worker_pair)

    def kill_them_all():  # as a PostgreSQL restart would: every connection of every worker
        for worker in worker_pair:
            kill_database_connections(worker.app_name)

    record(fault_table, fault, [process_run(bot, fault, run_seed(fault_table.seed, fault, index),
                                            lambda rng: arm_at_random_moment(fake, rng, kill_them_all))
                                for index in range(runs(3))])
    assert any("terminating connection due to administrator command" in w.output() for w in worker_pair)


def test_redis_restarted_mid_cycle(fake, workers, fault_table):
    fault = "6 Redis restarted mid-cycle"
    redis_server = PrivateRedis().start()
    try:
        bot = Bot(fake, [workers(fake, redis_url=redis_server.url)], broker_url=redis_server.url)
        restarts = []

        def arm(rng):
            down_for = round(rng.uniform(0.2, 2.0), 2)
            plan = arm_at_random_moment(fake, rng,
                                        lambda: restarts.append(redis_server.restart_in_background(down_for)))
            return f"Redis down for {down_for} s, {plan}"

        results = [process_run(bot, fault, run_seed(fault_table.seed, fault, index), arm,
                               after_fault=lambda: restarts[-1].join(15)) for index in range(runs(2))]
    finally:
        redis_server.stop()
    record(fault_table, fault, results)
    assert redis_server.restarts == len(results)


def test_a_worker_killed_mid_cycle_is_replaced_and_the_new_one_settles_it(fake, workers, fault_table):
    fault = "7 worker SIGKILLed mid-cycle, replaced"
    bot = Bot(fake, [workers(fake)])

    def arm(rng):
        victim = bot.workers[-1]
        return arm_at_random_moment(fake, rng, lambda: os.kill(victim.process.pid, signal.SIGKILL))

    def replace_it():
        bot.workers[-1].process.wait(10)
        # A supervisor's restart: the new worker reconciles as soon as it is ready.
        bot.workers.append(workers(fake, queue=bot.queue))

    record(fault_table, fault, [process_run(bot, fault, run_seed(fault_table.seed, fault, index), arm,
                                            after_fault=replace_it) for index in range(runs(2))])


def test_a_pool_process_killed_mid_task_has_its_task_redelivered_without_a_second_order(fake, workers,
                                                                                       fault_table):
    fault = "7 pool process SIGKILLed mid-task, redelivered"
    worker = workers(fake, pool="prefork")
    bot = Bot(fake, [worker])

    def arm(rng):
        child = pool_child(worker)
        return arm_at_random_moment(fake, rng, lambda: os.kill(child, signal.SIGKILL))

    results = [process_run(bot, fault, run_seed(fault_table.seed, fault, index), arm) for index in range(runs(2))]
    record(fault_table, fault, results)
    received = Counter(RECEIVED.findall(worker.output()))
    assert "WorkerLostError" in worker.output()
    assert len([task for task, deliveries in received.items() if deliveries == 2]) == len(results)  # acks_late


def test_beat_firing_twice_with_two_workers_on_one_queue(fake, worker_pair, fault_table):
    fault = "8 beat fired twice, two worker processes"
    bot = Bot(fake, worker_pair)

    def twice():
        fake.fault_at = time.monotonic()
        bot.beat()
        bot.beat()

    record(fault_table, fault, [process_run(bot, fault, run_seed(fault_table.seed, fault, index),
                                            lambda rng: "two beats at once, then a third", fire_beat=twice)
                                for index in range(runs(2))])
