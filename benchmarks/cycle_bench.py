"""One trading cycle for 100 strategy x symbol pairs against the fake Bybit server with 50 ms per call.

    .venv/bin/python benchmarks/cycle_bench.py [--pairs 100] [--latency 0.05]

Needs PostgreSQL (DATABASE_URL, as ``make bench`` sets it): it creates a throw-away test database,
migrates it, and drops it at the end. The same cycle is run twice in the same process, on fresh state:
with the cycle's concurrency (the product) and with one worker thread (every call in turn, the
reference). It prints wall time, the number of exchange calls, the time spent waiting on them (summed
over threads) and that wait's share of the wall time. Goal (issue 5): under 2 s for 100 pairs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from market.intervals import INTERVAL_MINUTES  # noqa: E402
from tests.fakes.bybit_server import FakeBybit  # noqa: E402

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
GOAL_SECONDS = 2.0


class TimedExchange:
    """Delegates to an exchange and adds up the time spent inside its calls (from any thread)."""

    def __init__(self, exchange):
        self._exchange = exchange
        self._lock = threading.Lock()
        self.calls = 0
        self.waiting = 0.0

    def __getattr__(self, name):
        attribute = getattr(self._exchange, name)
        if not callable(attribute):
            return attribute

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                with self._lock:
                    self.calls += 1
                    self.waiting += time.perf_counter() - started

        return timed


def _serve(latency: float, urls, stop) -> None:
    with FakeBybit() as fake:
        fake.latency = latency
        urls.put(fake.url)
        stop.wait()


class RemoteFakeBybit:
    """The fake Bybit server in its own process, as a real exchange would be: its threads do not compete
    with the cycle's for this process's GIL."""

    def __init__(self, latency: float):
        context = multiprocessing.get_context("fork")
        self._urls, self._stop = context.Queue(), context.Event()
        self._process = context.Process(target=_serve, args=(latency, self._urls, self._stop), daemon=True)

    def __enter__(self):
        self._process.start()
        self.url = self._urls.get(timeout=30)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._process.join(10)

    def exchange(self):
        from exchange.bybit import BybitExchange
        from tests.fakes.bybit_server import API_KEY, API_SECRET

        return BybitExchange(api_key=API_KEY, api_secret=API_SECRET, base_url=self.url, timeout=10)


def make_strategies(pairs: int):
    from strategies.models import Strategy

    intervals = list(INTERVAL_MINUTES)[:10]
    strategies, count = [], 0
    while count < pairs:
        index = len(strategies)
        symbols = SYMBOLS[: min(3, pairs - count)]
        strategies.append(Strategy.objects.create(
            name=f"bench-{index}", type=("trend_following", "scalping")[index % 2], is_active=True, symbols=symbols,
            timeframe=intervals[index % len(intervals)], risk_percentage=Decimal("0.5")))
        count += len(symbols)
    return strategies


def run_once(pairs: int, latency: float, workers: int | None) -> dict:
    from trades.cycle import TradingCycle
    from trades.models import Decision, Trade

    Decision.objects.all().delete()
    Trade.objects.all().delete()
    from strategies.models import Strategy

    Strategy.objects.all().delete()
    strategies = make_strategies(pairs)
    with RemoteFakeBybit(latency) as fake:
        exchange = TimedExchange(fake.exchange())
        for symbol in SYMBOLS:  # instrument rules: cached per process for an hour, warm in a running worker
            exchange.get_instrument(symbol)
        for strategy in strategies:  # the fake builds each candle series on first request: not ours to time
            for symbol in strategy.symbols:
                exchange.get_klines(symbol, strategy.timeframe, 1)
        exchange.calls, exchange.waiting = 0, 0.0
        options = {"max_workers": workers} if workers else {}
        cycle = TradingCycle(exchange=exchange, sleep=lambda s: None, **options)
        started = time.perf_counter()
        report = cycle.run(strategies)
        wall = time.perf_counter() - started
    return {"wall": wall, "calls": exchange.calls, "waiting": exchange.waiting, "pairs": len(report.pairs),
            "orders": report.orders}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake adds to every call")
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        concurrent = run_once(args.pairs, args.latency, None)
        sequential = run_once(args.pairs, args.latency, 1)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    print(f"one cycle, {concurrent['pairs']} strategy x symbol pairs, {args.latency * 1000:.0f} ms per exchange call")
    print(f"{'':24}{'wall':>9}{'calls':>8}{'waiting on I/O (sum)':>23}{'share of wall':>15}{'orders':>8}")
    for name, result in (("concurrent (product)", concurrent), ("one call at a time", sequential)):
        print(f"{name:24}{result['wall']:8.2f}s{result['calls']:8d}{result['waiting']:22.2f}s"
              f"{result['waiting'] / result['wall']:14.0%}{result['orders']:8d}")
    print(f"speed-up from fetching concurrently: {sequential['wall'] / concurrent['wall']:.1f}x")
    met = concurrent["wall"] < GOAL_SECONDS
    print(f"goal: under {GOAL_SECONDS:.0f} s for {args.pairs} pairs: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
