"""Peak memory of a one-year portfolio backtest of 10 symbols (issue 23: under 1.5 GB peak RSS).

    .venv/bin/python benchmarks/portfolio_memory_bench.py [--symbols 10] [--days 365] [--type scalping]

Needs no database server: an in-memory SQLite settings module, migrated, holds the stored run. The candles are
ten seeded random walks of one year of 1-minute candles each (plus the live cycle's warm-up before it), written
as ``manage.py download_candles`` writes them (1,000-minute CSV pages under ``TRADEBOT_DATA_DIR/candles``, a
temporary directory kept between runs of this script), so the run reads them through the same code a user's
downloaded data goes through. What is measured is a whole run as the dashboard's Celery task makes it:
``runner.execute`` (candles read, gaps and checksum, every symbol's signals, the shared-wallet simulation,
funding at the assumed rate, the joined Decimal ledger, the report) and ``runner.store`` (the row with its
equity curve, trades and chart written to the database). Peak RSS is the kernel's ``VmHWM`` of this process;
the baseline (Django, pandas, numpy loaded, before the first candle is read) is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(tempfile.gettempdir()) / "tradebot-portfolio-bench"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")
os.environ["DATABASE_URL"] = "sqlite:///:memory:"
os.environ["TRADEBOT_DATA_DIR"] = str(DATA)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from exchange.downloader import HEADER, PAGE, cache_directory  # noqa: E402
from trades.backtest import runner  # noqa: E402
from trades.backtest.data import CACHE  # noqa: E402
from trades.backtest.inputs import StrategySpec  # noqa: E402

GOAL_MB = 1536
MINUTE_MS = 60_000
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_symbol(symbol: str, first_ms: int, minutes: int, seed: int) -> None:
    """A seeded random walk (BTC-like 1-minute volatility), in the download cache's page layout."""
    directory = cache_directory(DATA / "candles", symbol)
    if directory.is_dir() and len(list(directory.glob("*.csv"))) == -(-minutes // PAGE):
        return  # written by an earlier run of this script (same seed, same layout)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.0007, minutes)
    close = 100.0 * (1 + seed % 7) * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[close[0]], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.0004, (2, minutes)))
    frame = pd.DataFrame({"timestamp_ms": first_ms + np.arange(minutes, dtype=np.int64) * MINUTE_MS,
                          "open": open_.round(4), "high": (np.maximum(open_, close) * (1 + wick[0])).round(4),
                          "low": (np.minimum(open_, close) * (1 - wick[1])).round(4), "close": close.round(4),
                          "volume": rng.gamma(2.0, 20.0, minutes).round(3)})[HEADER]
    for start in range(0, minutes, PAGE):
        page = frame.iloc[start:start + PAGE]
        page.to_csv(directory / f"{int(page['timestamp_ms'].iloc[0])}.csv", index=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--type", default="scalping", help="the built-in strategy type traded on every symbol")
    parser.add_argument("--timeframe", default="5")
    args = parser.parse_args()

    symbols = [f"SYN{index:02d}USDT" for index in range(1, args.symbols + 1)]
    warmup = timedelta(minutes=settings.CYCLE_KLINE_LIMIT * int(args.timeframe))
    first = YEAR_START - warmup
    minutes = int((timedelta(days=args.days) + warmup) / timedelta(minutes=1))
    started = time.perf_counter()
    for index, symbol in enumerate(symbols):
        write_symbol(symbol, int(first.timestamp() * 1000), minutes, seed=20261205 + index)
    written = time.perf_counter() - started
    call_command("migrate", verbosity=0)
    baseline = peak_rss_mb()

    spec = StrategySpec.from_parameters({"type": args.type, "indicators": {}, "timeframe": args.timeframe,
                                         "risk_percentage": "1", "stop_loss_percentage": "1",
                                         "take_profit_percentage": "2", "leverage": "1", "max_positions": 3,
                                         "name": f"{args.type} x {len(symbols)}"})
    run = runner.RunSettings(symbol=symbols[0], symbols=tuple(symbols), start=YEAR_START,
                             end=YEAR_START + timedelta(days=args.days), source=CACHE)
    started = time.perf_counter()
    outcome = runner.execute(spec, run)
    executed = time.perf_counter() - started
    stored = runner.store(outcome)
    total = time.perf_counter() - started
    peak = peak_rss_mb()
    candles = sum(leg.data.candles for leg in outcome.prepared.legs)

    print(f"portfolio backtest: {args.type} on {args.timeframe}-minute candles, {len(symbols)} symbols, "
          f"{YEAR_START:%Y-%m-%d} + {args.days} days; {candles:,} 1-minute candles traded "
          f"(+ {settings.CYCLE_KLINE_LIMIT} {args.timeframe}-minute candles of warm-up each), funding at the assumed "
          f"rate; max_positions 3 on one wallet")
    print(f"candles written to the download cache in {written:.1f} s (0 when an earlier run left them)")
    print(f"run: {executed:.1f} s to the report, {total:.1f} s with the stored row (id {stored.pk}); "
          f"{stored.trades_count:,} trades, return {stored.total_return_pct} %")
    print(f"peak RSS {peak:,.0f} MB (before the run: {baseline:,.0f} MB for Django, pandas and numpy)")
    met = peak < GOAL_MB
    print(f"goal: peak RSS < {GOAL_MB} MB: ratio {peak / GOAL_MB:.2f}: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
