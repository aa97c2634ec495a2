"""Our backtest engine against backtesting.py 0.6.6 and vectorbt 1.2 on one year of 1-minute candles, side by side.

The data: a seeded synthetic random walk for the first 11 months of the year, then the bundled real
month of BTCUSDT (Binance spot, exchange/data/), the walk scaled to end where the real month opens:
525,600 candles in all. The strategy: EMA 9/21 crossover, long and short, a fixed size of 1 BTC,
0.055% fee per side, no slippage, no stops. Every engine fills a signal of candle t at candle t+1's
open (backtesting.py's default, ``trade_on_close=False``; vectorbt's signals shifted a minute and filled
at the open), reverses on the opposite cross, and reads the same EMAs (TA-Lib's, through
``strategies.sdk.indicators.ema``, the function the ``ema_crossover`` strategy calls), so any difference is
the engines'.

Timed for ours, from the candle frame to the result: the two EMAs (``strategies.sdk.indicators.ema``),
the crossover (``strategies.rules.crossed``), the 1-minute arrays (``Minutes.from_frame``), the signal
events (``signal_events``) and the simulation with its equity curve (``simulate``): the functions the
optimiser's sweep calls per cell, the last three exactly as ``trades.backtest.runner`` calls them.
``simulate`` resolves this run in numpy (``trades.backtest.fast_path``: fixed size, no stops, reversals);
its trades are columns until first read (``LazyTrades``): building them as objects is timed on its own line,
and so is the Decimal ledger of the stored report (which reads them). Not in the timed path: the runner's
signal step for a strategy class (``strategy_signals`` through the SDK kernel, pandas), timed on its own line
for ``ema_crossover`` with the same EMAs.
Timed for vectorbt (tz-naive index, after one warm-up call that numba compiles in, printed): the same EMAs,
the crossover, ``Portfolio.from_signals`` (its final value and trade count are read after the clock).
Timed for backtesting.py: ``Backtest(...).run()`` on the same frame (its EMA arrays were computed before).
Ours and vectorbt: the best of five timed runs. Peak RSS is read from the kernel (``VmHWM``) after each
part. Exits non-zero if a goal is missed.

    .venv/bin/python benchmarks/backtest_vs_backtesting_py.py [--synthetic-minutes N] [--skip-reference]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import replace
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
from strategies.catalogue import strategy_class  # noqa: E402
from strategies.rules import crossed  # noqa: E402
from strategies.sdk.indicators import ema  # noqa: E402
from trades.backtest.costs import FEE_RATE  # noqa: E402
from trades.backtest.engine import EngineConfig, Minutes, simulate  # noqa: E402
from trades.backtest.inputs import StrategySpec, class_parameters, signal_events, strategy_signals  # noqa: E402
from trades.backtest.ledger import replay_ledger  # noqa: E402
from trades.risk import RiskParams  # noqa: E402

YEAR_MINUTES = 525_600
FEE = FEE_RATE  # the backtests' default, Bybit's taker fee
CASH = 10_000_000  # 1 BTC a trade; enough that neither engine ever lacks margin
FAST, SLOW = 9, 21
GOAL_RATIO, GOAL_VECTORBT, GOAL_TRADES, GOAL_EQUITY, GOAL_RSS_MB = 10.0, 1.0, 1, 0.001, 500
REPEATS = 5  # ours and vectorbt: the best of five timed runs (the machine is shared)


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
    """+1 / -1 / 0 per candle from the two EMAs (``ema_crossover``'s rule, ``strategies.rules.crossed``)."""
    short = ema(frame["close"], FAST).to_numpy(dtype="float64")
    long_ = ema(frame["close"], SLOW).to_numpy(dtype="float64")
    actions = crossed(short, long_, above=True).astype(np.int8) - crossed(short, long_, above=False).astype(np.int8)
    return actions, short, long_


def engine_config(**changes) -> EngineConfig:
    rules = InstrumentRules("BTCUSDT", tick_size=Decimal("0.01"), qty_step=Decimal("0.001"), min_qty=Decimal("0.001"),
                            max_qty=Decimal("1000"))
    config = EngineConfig(rules=rules, risk=RiskParams(Decimal("1"), Decimal("1"), Decimal("2")),
                          initial_balance=Decimal(CASH), fee_rate=FEE, slippage_bps=Decimal("0"),
                          max_notional=Decimal("1e12"), fixed_qty=Decimal("1"), protective_stops=False, reverse=True)
    return replace(config, **changes)


def backtest_once(frame: pd.DataFrame, config: EngineConfig, ai_filter=None):
    actions, _, _ = crossover_signals(frame)
    minutes = Minutes.from_frame(frame)
    events = signal_events(frame, actions, "1", minutes.start)
    return simulate(minutes, events, config, ai_filter=ai_filter), minutes


def run_ours(frame: pd.DataFrame):
    config, best = engine_config(), float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        result, minutes = backtest_once(frame, config)
        best = min(best, time.perf_counter() - started)
    return result, best, minutes, config


def run_vectorbt(frame: pd.DataFrame) -> tuple[float, int, float, float]:
    """(final value, trades, best warm seconds, first call's seconds)."""
    import vectorbt as vbt

    naive = frame.copy()
    naive.index = naive.index.tz_localize(None)  # vectorbt is ~25x slower on a tz-aware index

    def once(part: pd.DataFrame):
        close = part["close"]
        fast = ema(close, FAST).to_numpy(dtype="float64")
        slow = ema(close, SLOW).to_numpy(dtype="float64")
        # A signal on minute t fills at t+1's open: the signals move one minute later and fill at that open.
        longs = pd.Series(crossed(fast, slow, above=True), index=close.index).shift(1, fill_value=False)
        shorts = pd.Series(crossed(fast, slow, above=False), index=close.index).shift(1, fill_value=False)
        return vbt.Portfolio.from_signals(close, entries=longs, short_entries=shorts, price=part["open"], size=1.0,
                                          size_type="amount", fees=float(FEE), init_cash=CASH,
                                          upon_opposite_entry="reverse", freq="1min")

    started = time.perf_counter()
    once(naive.iloc[:5_000])  # numba compiles here
    first = time.perf_counter() - started
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        portfolio = once(naive)
        best = min(best, time.perf_counter() - started)
    return float(portfolio.final_value()), int(portfolio.trades.count()), best, first


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


def side_figures(frame: pd.DataFrame, ours) -> list[str]:
    """What the timed path does not take, each timed once: the runner's signal step for the ``ema_crossover`` class,
    the engine's general loop on the same run, and a run with stops."""
    lines = []
    parameters = class_parameters("ema_crossover", {"fast": FAST, "slow": SLOW})
    spec = StrategySpec(type="ema_crossover", indicators=parameters, timeframe="1")
    started = time.perf_counter()
    signals = strategy_signals(spec, frame, symbol="BTCUSDT")
    kernel_s = time.perf_counter() - started
    actions, _, _ = crossover_signals(frame)
    held = strategy_class(spec.type).startup_candle_count  # the kernel holds those rows, as the live cycle does
    differ = int((signals.actions[held:] != actions[held:]).sum())
    lines.append(f"the runner's signal step for ema_crossover 9/21 (strategy_signals, the SDK kernel): "
                 f"{kernel_s:.3f} s; its entries differ from the timed path's on {differ} rows after its {held} "
                 f"warm-up rows")
    started = time.perf_counter()
    # An AI filter that always says "go ahead" changes no decision but needs the loop: the loop on the same run.
    loop, _ = backtest_once(frame, engine_config(), ai_filter=lambda event: "")
    loop_s = time.perf_counter() - started
    same = (loop.final_equity == ours.final_equity and loop.trades == list(ours.trades)
            and np.array_equal(loop.equity, ours.equity))
    lines.append(f"the same run through the engine's general loop: {loop_s:.3f} s "
                 f"({len(frame) / loop_s:,.0f} candles/s), result {'identical' if same else 'DIFFERENT'}")
    started = time.perf_counter()
    stopped, _ = backtest_once(frame, engine_config(protective_stops=True))
    stops_s = time.perf_counter() - started
    lines.append(f"with a 1% stop-loss and 2% take-profit (the loop; stops scanned per trade): {stops_s:.3f} s "
                 f"({len(frame) / stops_s:,.0f} candles/s), {len(stopped.trades):,} trades")
    return lines, same


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = zip(row, widths, strict=True)
        print("  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in enumerate(cells)))


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
    print(f"strategy: EMA {FAST}/{SLOW} crossover, long/short, 1 BTC, "
          f"fee {FEE * 100:g}% per side, fill at the next open\n")

    ours, ours_s, minutes, config = run_ours(frame)
    ours_rss = peak_rss_mb()
    ours_trades = len(ours.trades) + (ours.open_trade is not None)  # vectorbt counts the open one too
    started = time.perf_counter()
    built = len(list(ours.trades))  # what the ledger's first read would cost, timed before the ledger reads them
    lines = [f"trades built as SimTrade objects (LazyTrades, on first read; the ledger reads them, its time includes "
             f"this): {time.perf_counter() - started:.3f} s for {built:,}"]
    started = time.perf_counter()
    ledger = replay_ledger(ours, minutes, config)
    ledger_s = time.perf_counter() - started
    rows = [("engine", "candles/s", "seconds", "closed trades", "final equity", "peak RSS MB")]
    rows.append(("ours", f"{candles / ours_s:,.0f}", f"{ours_s:.3f}", f"{len(ours.trades):,}",
                 f"{ours.final_equity:,.2f}", f"{ours_rss:,.0f}"))
    ok = ours_rss < GOAL_RSS_MB
    more, same = side_figures(frame, ours)
    lines += more
    ok = ok and same
    if not args.skip_reference:
        vbt_equity, vbt_trades, vbt_s, vbt_first = run_vectorbt(frame)
        rows.append(("vectorbt", f"{candles / vbt_s:,.0f}", f"{vbt_s:.3f}", f"{vbt_trades - 1:,}",
                     f"{vbt_equity:,.2f}", f"{peak_rss_mb():,.0f}"))
        _, short, long_ = crossover_signals(frame)
        stats, theirs_s = run_backtesting_py(frame, short, long_)
        theirs_trades, theirs_equity = int(stats["# Trades"]), float(stats["Equity Final [$]"])
        rows.append(("backtesting.py", f"{candles / theirs_s:,.0f}", f"{theirs_s:.3f}", f"{theirs_trades:,}",
                     f"{theirs_equity:,.2f}", f"{peak_rss_mb():,.0f}"))
    table(rows)
    print(f"\nDecimal ledger of the stored report (market.fills per fill, not in the ratio): {ledger_s:.3f} s; "
          f"final equity {ledger.final_equity:,.2f} USDT, "
          f"{abs(float(ledger.final_equity) - ours.final_equity):.6f} from the float engine")
    for line in lines:
        print(line)
    if not args.skip_reference:
        print(f"vectorbt's first call (numba compiling, 5,000 candles): {vbt_first:.1f} s; its trade count includes "
              f"the open one (the table shows closed ones)")
        ratio, vbt_ratio = theirs_s / ours_s, vbt_s / ours_s
        trade_gap = abs(len(ours.trades) - theirs_trades)
        equity_gap = abs(ours.final_equity - theirs_equity) / theirs_equity
        vbt_trade_gap = abs(ours_trades - vbt_trades)
        vbt_equity_gap = abs(ours.final_equity - vbt_equity) / vbt_equity
        agreed = trade_gap <= GOAL_TRADES and equity_gap <= GOAL_EQUITY
        vbt_agreed = vbt_trade_gap <= GOAL_TRADES and vbt_equity_gap <= GOAL_EQUITY
        ok = ok and ratio >= GOAL_RATIO and vbt_ratio >= GOAL_VECTORBT and agreed and vbt_agreed
        print(f"ratio: {ratio:.1f}x backtesting.py's candles per second (goal >= {GOAL_RATIO:g}x): "
              f"{'met' if ratio >= GOAL_RATIO else 'NOT met'}")
        print(f"ratio: {vbt_ratio:.2f}x vectorbt's warm candles per second (goal >= {GOAL_VECTORBT:g}x): "
              f"{'met' if vbt_ratio >= GOAL_VECTORBT else 'NOT met'}")
        print(f"agreement with backtesting.py: trades differ by {trade_gap} (goal <= {GOAL_TRADES}), final equity by "
              f"{equity_gap * 100:.5f}% (goal <= {GOAL_EQUITY * 100:g}%)")
        print(f"agreement with vectorbt: trades differ by {vbt_trade_gap} (goal <= {GOAL_TRADES}), final equity by "
              f"{vbt_equity_gap * 100:.5f}% (goal <= {GOAL_EQUITY * 100:g}%)")
    print(f"peak RSS {peak_rss_mb():,.0f} MB (ours alone {ours_rss:,.0f} MB; goal < {GOAL_RSS_MB} MB)")
    print("goals: " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
