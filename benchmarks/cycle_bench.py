"""One trading cycle for 10,000 strategy x symbol pairs (20 strategies x 500 synthesized symbols) against a fake
Bybit with 50 ms per call (issue 23).

    .venv/bin/python benchmarks/cycle_bench.py [--pairs 10000] [--strategies 20] [--latency 0.05] [--workers 1,2,4]

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL, as ``make bench`` sets them): it creates a throw-away test
database, migrates it, and drops it at the end; the Celery workers it starts take tasks from a queue of their own on
that Redis, and the requests are paced in an address group of their own there (``cycle-bench-<pid>``, not a live
bot's). The exchange is ``benchmarks/_cycle_market.py`` (any symbol, seeded random-walk klines) in its own process,
reached by the real ``BybitExchange``; it notes when each request arrives. Every row runs as a dry run (every
decision is taken and written, no order is sent: orders cost per entry, not per pair, and the fake market does not
fill them).

The strategies: half on 5-minute candles, half on 15-minute; scalping and trend following alternate; every fifth
has its own indicator periods, the others the defaults; they differ in risk settings (risk, leverage, positions),
as variants of one idea do. So 1,000 kline requests, 2,000 indicator passes and 4,000 evaluations serve the 10,000
pairs: the sharing the cycle does (printed below, with its counts).

Every request to the fake first takes a slot in the address's window in Redis (``exchange.ratelimit``,
BYBIT_IP_LIMIT, 550 per 5 s by default), as in production. Each row prints the most requests that arrived at the
fake in any 5 seconds (goal: at most Bybit's 600), measured at the fake, all processes together.

1. The cycle in one process (``TradingCycle.run`` over every strategy, as one worker runs it): wall time, CPU per
   pair (process CPU, every thread, all in: klines parsed, indicators, signals, decision rows written, logs),
   peak RSS. Goals: under 15 s, at most 0.5 ms per pair, under 1.5 GB.
2. Scale-out on real Celery workers: ``celery -A tradebot worker --pool prefork --concurrency N`` (N = 1, 2, 4)
   on the bench's database and Redis, started and ready before any timing. The bench sends the split of
   ``trades.runner.strategy_groups`` as ``run_strategy_group`` tasks, as ``run_active_strategies`` does, and times
   from the first send until the cycle run's pair count says every group is done; then it counts the Decision rows
   (all pairs, none twice). Timed: the second cycle on the running workers (the first, untimed, warms each pool
   process as the previous minute's cycle would; the window is let empty for 5 s in between, as a minute does).
3. The exchange calls of one cycle against the pace (``trades.runner.rate_limit_problem``).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")
# The bench's own address group: its requests go to a fake, not to Bybit, and must not share a live bot's window.
os.environ["BYBIT_IP_GROUP"] = f"cycle-bench-{os.getpid()}"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from benchmarks._cycle_market import API_KEY, API_SECRET, RemoteMarket, busiest_window, symbols  # noqa: E402

GOAL_WALL, GOAL_CPU_MS, GOAL_RSS_MB, GOAL_WINDOW = 15.0, 0.5, 1536, 600  # requests in any 5 s (Bybit, per IP)
TIMEFRAMES = ("5", "15")
OWN_PERIODS = {"rsi_period": 10, "ema_short": 12, "ema_long": 26}


def make_strategies(count: int, names: list[str]):
    from strategies.models import Strategy

    strategies = []
    for index in range(count):
        strategies.append(Strategy.objects.create(
            name=f"bench-{index}", type=("scalping", "trend_following")[index % 2], is_active=True, symbols=names,
            timeframe=TIMEFRAMES[index * len(TIMEFRAMES) // count], indicators=OWN_PERIODS if index % 5 == 4 else {},
            risk_percentage=Decimal("0.25") * (1 + index % 4), leverage=Decimal(1 + index % 3),
            max_positions=2 + index % 3))
    return strategies


def run_cycle(url: str, strategy_ids: list[int]) -> dict:
    """One cycle over these strategies in this process; its CPU time and peak RSS."""
    from exchange.bybit import BybitExchange
    from strategies.models import Strategy
    from trades.cycle import TradingCycle

    strategies = list(Strategy.objects.filter(pk__in=strategy_ids).order_by("pk"))
    exchange = BybitExchange(api_key=API_KEY, api_secret=API_SECRET, base_url=url, timeout=30)
    cpu, started = time.process_time(), time.perf_counter()
    report = TradingCycle(exchange=exchange, dry_run=True).run(strategies)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    connections.close_all()
    failed = sum(pair.outcome == "failed" for pair in report.pairs)
    return {"pairs": len(report.pairs), "wall": wall, "cpu": cpu, "failed": failed,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def quiet_window(market: RemoteMarket, log: list[float], seconds: float = 5.1) -> None:
    """Wait until no request has arrived for ``seconds`` (the address's window is empty, as a minute leaves it)."""
    while True:
        log += market.arrivals()
        idle = time.time() - (max(log) if log else 0)
        if idle >= seconds:
            return
        time.sleep(seconds - idle)


class CeleryWorkers:
    """``celery -A tradebot worker`` (prefork, ``concurrency`` pool processes) on the bench's database, Redis and
    fake market, taking tasks from its own queue; ready when entered, stopped (warm shutdown) when left."""

    def __init__(self, concurrency: int, queue: str, market_url: str):
        db = connections["default"].settings_dict  # the throw-away test database by now
        password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
        self.env = dict(os.environ, DATABASE_URL=f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/"
                                                 f"{db['NAME']}",
                        EXCHANGE_MODE="testnet", BYBIT_BASE_URL=market_url, BYBIT_API_KEY=API_KEY,
                        BYBIT_API_SECRET=API_SECRET, BYBIT_TIMEOUT="30", DATABASE_POOL_SIZE="0")
        self.args = [sys.executable, "-m", "celery", "-A", "tradebot", "worker", "--pool", "prefork",
                     "--concurrency", str(concurrency), "--queues", queue, "--loglevel", "INFO",
                     "--hostname", f"bench{concurrency}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"]

    def __enter__(self) -> CeleryWorkers:
        self.log = tempfile.NamedTemporaryFile("w+", prefix="cycle-bench-worker-", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while "ready." not in Path(self.log.name).read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Celery worker did not start:\n" + Path(self.log.name).read_text()[-3000:])
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()  # warm shutdown: the pool processes finish and exit
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def celery_cycle(groups: list[list[int]], queue: str, pairs: int) -> dict:
    """One cycle sent as ``run_strategy_group`` tasks (as ``run_active_strategies`` sends them) to the running
    workers: wall time from the first send until the run's pair count has every group in."""
    from trades.models import CycleRun, Decision
    from trades.tasks import run_strategy_group

    Decision.objects.all().delete()
    run = CycleRun.objects.create(trigger="bench", worker=socket.gethostname())
    started = time.perf_counter()
    for ids in groups:
        run_strategy_group.apply_async(args=[ids, run.pk], kwargs={"dry_run": True}, queue=queue, expires=55)
    deadline = started + 300
    while (done := CycleRun.objects.filter(pk=run.pk).values_list("pairs", flat=True).get()) < pairs:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the workers decided {done} of {pairs} pairs in 300 s")
        time.sleep(0.01)
    wall = time.perf_counter() - started
    decisions = Decision.objects.count()
    distinct = Decision.objects.values("strategy", "symbol").distinct().count()
    failed = Decision.objects.filter(outcome="failed").count()
    return {"wall": wall, "run_pairs": done, "decisions": decisions, "duplicates": decisions - distinct,
            "failed": failed}


def scale_out(market: RemoteMarket, log: list[float], groups: list[list[int]], pairs: int, concurrency: int) -> dict:
    queue = f"cycle-bench-{os.getpid()}-{concurrency}"
    try:
        with CeleryWorkers(concurrency, queue, market.url):
            celery_cycle(groups, queue, pairs)  # warm-up: every pool process has run a cycle, as in a running bot
            quiet_window(market, log)
            result = celery_cycle(groups, queue, pairs)
            arrivals = market.arrivals()
            log += arrivals
            result["busiest"] = busiest_window(arrivals)
            result["requests"] = len(arrivals)
            return result
    finally:
        # The broker's leftovers of the bench's own queue.
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue, f"_kombu.binding.{queue}")


def silence_logs() -> None:
    """The cycle logs one line a decision: formatted as in production (its cost is measured), written nowhere."""
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--strategies", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake adds to every call")
    parser.add_argument("--workers", default="1,2,4", help="Celery worker pool sizes for the scale-out runs")
    args = parser.parse_args()
    if settings.EMBEDDED_REDIS:
        print("cycle_bench needs REDIS_URL=redis://... (the workers' broker, the requests' window)")
        return 2

    from trades.models import Decision
    from trades.runner import kline_calls, rate_limit_problem, strategy_groups

    setup_test_environment()
    silence_logs()
    old_name = connections["default"].creation.create_test_db(verbosity=0, autoclobber=True)
    log: list[float] = []  # every request's arrival at the fake, the whole run
    try:
        names = symbols(math.ceil(args.pairs / args.strategies))
        strategies = make_strategies(args.strategies, names)
        ids = [strategy.pk for strategy in strategies]
        groups = strategy_groups(strategies)
        with RemoteMarket(names, list(TIMEFRAMES), args.latency) as market:
            quiet_window(market, log)
            single = run_cycle(market.url, ids)
            arrivals = market.arrivals()
            log += arrivals
            single["busiest"], single["requests"] = busiest_window(arrivals), len(arrivals)
            decisions = Decision.objects.count()
            splits = {}
            for workers in (int(w) for w in args.workers.split(",") if w):
                quiet_window(market, log)
                splits[workers] = scale_out(market, log, [[s.pk for s in group] for group in groups], single["pairs"],
                                            workers)
            log += market.arrivals()
    finally:
        connections["default"].creation.destroy_test_db(old_name, verbosity=0)

    pairs = single["pairs"]
    keys = len(names) * len(TIMEFRAMES)
    period_sets = len({str(s.indicators) for s in strategies})
    evaluations = len({(s.timeframe, s.type, str(s.indicators)) for s in strategies}) * len(names)
    requests, window = settings.BYBIT_IP_LIMIT
    print(f"one cycle: {pairs} strategy x symbol pairs ({args.strategies} strategies x {len(names)} symbols), "
          f"{args.latency * 1000:.0f} ms per exchange call, dry run, {os.cpu_count()} CPUs; requests paced to "
          f"{requests} per {window:g} s (BYBIT_IP_LIMIT) through Redis")
    print(f"shared work: {keys} kline requests, {keys * period_sets} indicator passes, {evaluations} evaluations; "
          f"{decisions} decision rows written; {single['failed']} pairs failed")
    cpu_ms = single["cpu"] / pairs * 1000
    wall_met, cpu_met, rss_met = (single["wall"] < GOAL_WALL, cpu_ms <= GOAL_CPU_MS, single["rss_mb"] < GOAL_RSS_MB)
    print(f"1 process:  wall {single['wall']:6.2f} s  (goal < {GOAL_WALL:.0f} s, ratio "
          f"{single['wall'] / GOAL_WALL:.2f}: {verdict(wall_met)})")
    print(f"            CPU per pair {cpu_ms:.3f} ms  (goal <= {GOAL_CPU_MS} ms, ratio {cpu_ms / GOAL_CPU_MS:.2f}: "
          f"{verdict(cpu_met)})")
    print(f"            peak RSS {single['rss_mb']:.0f} MB  (goal < {GOAL_RSS_MB} MB, ratio "
          f"{single['rss_mb'] / GOAL_RSS_MB:.2f}: {verdict(rss_met)})")
    windows_met = [single["busiest"] <= GOAL_WINDOW]
    print(f"            {single['requests']} requests, at most {single['busiest']} in any 5 s at the fake "
          f"(goal <= {GOAL_WINDOW}, ratio {single['busiest'] / GOAL_WINDOW:.2f}: {verdict(windows_met[-1])})")
    print(f"scale-out over {len(groups)} run_strategy_group tasks (strategy_groups) on real Celery workers "
          f"(prefork), timed from the first send to the last group done:")
    complete = True
    for workers, result in splits.items():
        windows_met.append(result["busiest"] <= GOAL_WINDOW)
        whole = result["decisions"] == pairs and result["duplicates"] == 0 and result["run_pairs"] == pairs
        complete = complete and whole
        print(f"  {workers} worker process(es): wall {result['wall']:6.2f} s; {result['decisions']} decisions, "
              f"{result['duplicates']} duplicates, {result['failed']} failed, run counted {result['run_pairs']} "
              f"pairs ({verdict(whole)}); {result['requests']} requests, at most {result['busiest']} in any 5 s "
              f"(goal <= {GOAL_WINDOW}, ratio {result['busiest'] / GOAL_WINDOW:.2f}: {verdict(windows_met[-1])})")
    overall = busiest_window(log)
    windows_met.append(overall <= GOAL_WINDOW)
    print(f"  the whole bench (warm-ups and worker start-ups too): {len(log)} requests, at most {overall} in any 5 s "
          f"({verdict(windows_met[-1])})")
    calls = kline_calls(groups)
    problem = rate_limit_problem(calls)
    print(f"exchange calls per cycle split in {len(groups)}: {calls} (>= {calls / (requests / window):.1f} s of "
          f"fetching at the pace): within the minute {verdict(not problem)}{': ' + problem if problem else ''}")
    met = wall_met and cpu_met and rss_met and not problem and all(windows_met) and complete
    print(f"goals: {verdict(met)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
