"""One trading cycle for 10,000 strategy x symbol pairs (20 strategies x 500 synthesized symbols) against a fake
Bybit with 50 ms per call (issue 23).

    .venv/bin/python benchmarks/cycle_bench.py [--pairs 10000] [--strategies 20] [--latency 0.05] [--workers 1,2,4]

Needs PostgreSQL (DATABASE_URL, as ``make bench`` sets it): it creates a throw-away test database, migrates it,
and drops it at the end. The exchange is ``benchmarks/_cycle_market.py`` (any symbol, seeded random-walk klines)
in its own process, reached by the real ``BybitExchange``. The cycle runs as a dry run (every decision is taken
and written, no order is sent: orders cost per entry, not per pair, and the fake market does not fill them).

The strategies: half on 5-minute candles, half on 15-minute; scalping and trend following alternate; every fifth
has its own indicator periods, the others the defaults; they differ in risk settings (risk, leverage, positions),
as variants of one idea do. So 1,000 kline requests, 2,000 indicator passes and 4,000 evaluations serve the 10,000
pairs: the sharing the cycle does (printed below, with its counts).

1. The cycle in one process (``TradingCycle.run`` over every strategy, as one worker runs it): wall time, CPU per
   pair (process CPU, every thread, all in: klines parsed, indicators, signals, decision rows written, logs),
   peak RSS. Goals: under 15 s, at most 0.5 ms per pair, under 1.5 GB.
2. Scale-out: the same pairs split by ``trades.runner.strategy_groups`` (the split the Celery dispatcher sends as
   ``run_strategy_group`` sub-tasks) and run by a pool of 1, 2 and 4 forked worker processes (a process pool over
   the same split, not Celery workers: the broker's hop is a few ms a sub-task). Wall time for each.
3. The exchange calls of one cycle against Bybit's IP limit (``trades.runner.rate_limit_problem``).
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import os
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")

import django  # noqa: E402

django.setup()

from django.db import connections  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from benchmarks._cycle_market import RemoteMarket, symbols  # noqa: E402

GOAL_WALL, GOAL_CPU_MS, GOAL_RSS_MB = 15.0, 0.5, 1536
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
    from benchmarks._cycle_market import API_KEY, API_SECRET
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


def _run_group(job) -> dict:
    url, strategy_ids = job
    return run_cycle(url, strategy_ids)


def split_runs(url: str, groups: list[list[int]], workers: int) -> dict:
    connections.close_all()  # a forked worker opens its own connection
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with context.Pool(workers, maxtasksperchild=1) as pool:
        results = pool.map(_run_group, [(url, ids) for ids in groups], chunksize=1)
    wall = time.perf_counter() - started
    return {"wall": wall, "pairs": sum(r["pairs"] for r in results), "cpu": sum(r["cpu"] for r in results),
            "rss_mb": max(r["rss_mb"] for r in results)}


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
    parser.add_argument("--workers", default="1,2,4", help="worker process counts for the scale-out runs")
    args = parser.parse_args()

    from trades.models import Decision
    from trades.runner import IP_REQUESTS_PER_5S, kline_calls, rate_limit_problem, strategy_groups

    setup_test_environment()
    silence_logs()
    old_name = connections["default"].creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        names = symbols(math.ceil(args.pairs / args.strategies))
        strategies = make_strategies(args.strategies, names)
        ids = [strategy.pk for strategy in strategies]
        groups = strategy_groups(strategies)
        with RemoteMarket(names, list(TIMEFRAMES), args.latency) as market:
            single = run_cycle(market.url, ids)
            decisions = Decision.objects.count()
            splits = {}
            for workers in (int(w) for w in args.workers.split(",") if w):
                Decision.objects.all().delete()
                splits[workers] = split_runs(market.url, [[s.pk for s in group] for group in groups], workers)
    finally:
        connections["default"].creation.destroy_test_db(old_name, verbosity=0)

    pairs = single["pairs"]
    keys = len(names) * len(TIMEFRAMES)
    period_sets = len({str(s.indicators) for s in strategies})
    evaluations = len({(s.timeframe, s.type, str(s.indicators)) for s in strategies}) * len(names)
    print(f"one cycle: {pairs} strategy x symbol pairs ({args.strategies} strategies x {len(names)} symbols), "
          f"{args.latency * 1000:.0f} ms per exchange call, dry run, {os.cpu_count()} CPUs")
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
    print(f"scale-out over {len(groups)} sub-tasks (strategy_groups), forked worker processes:")
    for workers, result in splits.items():
        print(f"  {workers} worker(s): wall {result['wall']:6.2f} s, CPU per pair "
              f"{result['cpu'] / result['pairs'] * 1000:.3f} ms, peak RSS per worker {result['rss_mb']:.0f} MB")
    calls = kline_calls(groups)
    problem = rate_limit_problem(calls)
    print(f"exchange calls per cycle: {calls} (Bybit: 600 per 5 s per IP, so >= {calls / 120:.1f} s of fetching): "
          f"within the minute {verdict(not problem)}{': ' + problem if problem else ''}")
    # The fetch is not throttled: a run sends its requests as fast as its threads get answers (1-3 s here), so the
    # sub-tasks running at once from one address must stay under 600 requests between them.
    sizes = sorted((kline_calls([group]) for group in groups), reverse=True)
    bursts = {"1 process": kline_calls([strategies]), **{f"{w} worker(s)": sum(sizes[:w]) for w in splits}}
    burst_met = all(calls <= IP_REQUESTS_PER_5S for calls in bursts.values())
    print("  within one 5 s window (the fetch is not throttled; requests sent at once from one IP): " +
          ", ".join(f"{name} {calls}" for name, calls in bursts.items()) + f": {verdict(burst_met)}")
    met = wall_met and cpu_met and rss_met and not problem and burst_met
    print(f"goals: {verdict(met)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
