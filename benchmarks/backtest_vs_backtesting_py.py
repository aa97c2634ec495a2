"""Our backtest engine against backtesting.py 0.6.6 on one year of 1-minute candles, side by side.

The data: a seeded synthetic random walk for the first 11 months of the year, then the bundled real
month of BTCUSDT (Binance spot, exchange/data/), the walk scaled to end where the real month opens:
525,600 candles in all. The strategy: EMA 9/21 crossover, long and short, a fixed size of 1 BTC,
0.055% fee per side, no slippage, no stops. Both engines fill a signal of candle t at candle t+1's
open (backtesting.py's default, ``trade_on_close=False``), reverse on the opposite cross, and read the
same EMA arrays (``strategies.indicators.compute_indicators``), so any difference is the engines'.

Timed for ours: indicators, crossover signals, events and the simulation with its equity curve (the
float engine; the Decimal ledger of the stored report is timed separately, below the table). Timed
for backtesting.py: ``Backtest(...).run()`` on the same frame (its EMA arrays were computed before).
Peak RSS is read from the kernel (``VmHWM``) after each part. Exits non-zero if a goal is missed.

    .venv/bin/python benchmarks/backtest_vs_backtesting_py.py [--synthetic-minutes N] [--skip-reference]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")

import django  # noqa: E402

django.setup()

from exchange.base import InstrumentRules  # noqa: E402
from exchange.replay import load_minutes  # noqa: E402
from strategies.indicators import compute_indicators  # noqa: E402
from strategies.rules import crossed  # noqa: E402
from trades.backtest.costs import FEE_RATE  # noqa: E402
from trades.backtest.engine import EngineConfig, Minutes, simulate  # noqa: E402
from trades.backtest.inputs import signal_events  # noqa: E402
from trades.backtest.ledger import replay_ledger  # noqa: E402
from trades.risk import RiskParams  # noqa: E402

YEAR_MINUTES = 525_600
FEE = FEE_RATE  # the backtests' default, Bybit's taker fee
CASH = 10_000_000  # 1 BTC a trade; enough that neither engine ever lacks margin
CONFIG = {"ema_short": 9, "ema_long": 21}
GOAL_RATIO, GOAL_TRADES, GOAL_EQUITY, GOAL_RSS_MB = 10.0, 1, 0.001, 500


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def year_of_minutes(synthetic_minutes: int, seed: int = 20260324) -> pd.DataFrame:
    """A seeded random walk (1-minute volatility like BTC's), then the bundled real month."""
    real = load_minutes(str(Path(__file__).resolve().parent.parent / "exchange/data/BTCUSDT_1m.csv.gz"))
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.0007, synthetic_minutes)
    close = np.exp(np.cumsum(returns))
    close *= real["open"].iloc[0] / close[-1]  # the walk ends where the real month opens
    open_ = np.concatenate([[close[0] / np.exp(returns[0])], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.0004, (2, synthetic_minutes)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    synthetic = np.round(np.column_stack([open_, high, low, close, rng.gamma(2.0, 20.0, synthetic_minutes)]), 2)
    index = pd.date_range(end=real.index[0] - pd.Timedelta(minutes=1), periods=synthetic_minutes, freq="1min",
                          name="start")
    frame = pd.concat([pd.DataFrame(synthetic, index=index, columns=real.columns), real])
    return frame


def crossover_signals(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    indicators = compute_indicators(frame, CONFIG)
    short, long_ = indicators["ema_short"].to_numpy(), indicators["ema_long"].to_numpy()
    actions = crossed(short, long_, above=True).astype(np.int8) - crossed(short, long_, above=False).astype(np.int8)
    return actions, short, long_


def run_ours(frame: pd.DataFrame):
    rules = InstrumentRules("BTCUSDT", tick_size=Decimal("0.01"), qty_step=Decimal("0.001"), min_qty=Decimal("0.001"),
                            max_qty=Decimal("1000"))
    config = EngineConfig(rules=rules, risk=RiskParams(Decimal("1"), Decimal("1"), Decimal("2")),
                          initial_balance=Decimal(CASH), fee_rate=FEE, slippage_bps=Decimal("0"),
                          max_notional=Decimal("1e12"), fixed_qty=Decimal("1"), protective_stops=False, reverse=True)
    started = time.perf_counter()
    actions, _, _ = crossover_signals(frame)
    minutes = Minutes.from_frame(frame)
    events = signal_events(frame, actions, "1", minutes.start)
    result = simulate(minutes, events, config)
    elapsed = time.perf_counter() - started
    return result, elapsed, minutes, config


def run_backtesting_py(frame: pd.DataFrame, short: np.ndarray, long_: np.ndarray):
    from backtesting import Backtest, Strategy

    class EmaCross(Strategy):
        def init(self):
            self.fast = self.I(lambda: short, name="ema9")
            self.slow = self.I(lambda: long_, name="ema21")

        def next(self):
            fast, slow = self.fast, self.slow
            # strategies.rules.crossed, spelled for one bar: now strictly across, before at or behind.
            if fast[-1] > slow[-1] and fast[-2] <= slow[-2] and not self.position.is_long:
                self.buy(size=1)
            elif fast[-1] < slow[-1] and fast[-2] >= slow[-2] and not self.position.is_short:
                self.sell(size=1)

    data = frame.rename(columns=str.capitalize)
    data.index = data.index.tz_localize(None)
    backtest = Backtest(data, EmaCross, cash=CASH, commission=float(FEE), exclusive_orders=True,
                        trade_on_close=False, finalize_trades=False)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = backtest.run()
    return stats, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-minutes", type=int, default=None,
                        help="synthetic minutes before the real month (default: a full year in all)")
    parser.add_argument("--skip-reference", action="store_true", help="time our engine only")
    args = parser.parse_args()
    real_minutes = len(load_minutes(str(Path(__file__).resolve().parent.parent / "exchange/data/BTCUSDT_1m.csv.gz")))
    synthetic = args.synthetic_minutes if args.synthetic_minutes is not None else YEAR_MINUTES - real_minutes
    frame = year_of_minutes(synthetic)
    candles = len(frame)
    print(f"data: {candles:,} 1-minute candles ({synthetic:,} synthetic, seeded, + {real_minutes:,} real BTCUSDT), "
          f"{frame.index[0]:%Y-%m-%d} to {frame.index[-1]:%Y-%m-%d}")
    print(f"strategy: EMA {CONFIG['ema_short']}/{CONFIG['ema_long']} crossover, long/short, 1 BTC, "
          f"fee {FEE * 100:g}% per side, fill at the next open\n")

    ours, ours_s, minutes, config = run_ours(frame)
    ours_rss = peak_rss_mb()
    started = time.perf_counter()
    ledger = replay_ledger(ours, minutes, config)
    ledger_s = time.perf_counter() - started
    rows = [("engine", "candles/s", "seconds", "trades", "final equity", "peak RSS MB")]
    rows.append(("ours", f"{candles / ours_s:,.0f}", f"{ours_s:.3f}", f"{len(ours.trades):,}",
                 f"{ours.final_equity:,.2f}", f"{ours_rss:,.0f}"))
    ok = ours_rss < GOAL_RSS_MB
    if not args.skip_reference:
        _, short, long_ = crossover_signals(frame)
        stats, theirs_s = run_backtesting_py(frame, short, long_)
        theirs_trades, theirs_equity = int(stats["# Trades"]), float(stats["Equity Final [$]"])
        rows.append(("backtesting.py", f"{candles / theirs_s:,.0f}", f"{theirs_s:.3f}", f"{theirs_trades:,}",
                     f"{theirs_equity:,.2f}", f"{peak_rss_mb():,.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = zip(row, widths, strict=True)
        print("  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in enumerate(cells)))
    print(f"\nDecimal ledger of the stored report (market.fills per fill, not in the ratio): {ledger_s:.3f} s; "
          f"final equity {ledger.final_equity:,.2f} USDT, "
          f"{abs(float(ledger.final_equity) - ours.final_equity):.6f} from the float engine")
    if not args.skip_reference:
        ratio = theirs_s / ours_s
        trade_gap = abs(len(ours.trades) - theirs_trades)
        equity_gap = abs(ours.final_equity - theirs_equity) / theirs_equity
        ok = ok and ratio >= GOAL_RATIO and trade_gap <= GOAL_TRADES and equity_gap <= GOAL_EQUITY
        print(f"ratio: {ratio:.1f}x backtesting.py's candles per second (goal >= {GOAL_RATIO:g}x)")
        print(f"agreement: trades differ by {trade_gap} (goal <= {GOAL_TRADES}), final equity by "
              f"{equity_gap * 100:.5f}% (goal <= {GOAL_EQUITY * 100:g}%)")
    print(f"peak RSS {peak_rss_mb():,.0f} MB (ours alone {ours_rss:,.0f} MB; goal < {GOAL_RSS_MB} MB)")
    print("goals: " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
