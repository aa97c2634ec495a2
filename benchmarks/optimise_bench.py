"""Our optimiser against backtesting.py's ``Backtest.optimize`` and vectorbt's broadcast sweep: a 100-cell grid of an
EMA crossover (fast 5..50 step 5 x slow 20..200 step 20) over one year of 1-minute candles, the same candles for all.

The data and the trading rule are ``backtest_vs_backtesting_py.py``'s: a seeded random walk then the bundled real
month of BTCUSDT (525,600 candles), long and short, a fixed 1 BTC, 0.055% fee per side, no slippage, each signal
filled at the next minute's open, reversing on the opposite cross. Every engine reads TA-Lib's EMA (ours through
``strategies.sdk.indicators.ema``, vectorbt through its TA-Lib indicator factory, backtesting.py the arrays ours
computed), so a difference in the best cell would be the engines'.

- ours: ``trades.optimise.sweep`` (each EMA once per period, every cell simulated by ``trades.backtest.engine``,
  which resolves these cells in numpy: ``trades.backtest.fast_path``), in
  a fork process pool of 1, 2 and 4 processes; and once more through Optuna's ask/tell (the optimiser's grid
  sampler, in-memory storage) to show what the study machinery adds per trial.
- backtesting.py: ``Backtest.optimize`` (its own process pool, one process per core) timed on a few cells and
  extrapolated (each cell is a 10-second Python loop over the year); one plain ``run`` is timed first, because
  ``optimize`` runs the best cell once more at its end, and that run is not multiplied.
- vectorbt: the 100 cells as 100 columns of one ``Portfolio.from_signals``, after a warm-up (numba compiles on the
  first call; printed).

    .venv/bin/python benchmarks/optimise_bench.py [--synthetic-minutes N] [--reference-cells 4] [--skip-reference]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")

import backtest_vs_backtesting_py as reference  # noqa: E402  (sets Django up: the catalogue, the engine's settings)

from trades.optimise import sweep  # noqa: E402

FASTS, SLOWS = range(5, 55, 5), range(20, 220, 20)
CELLS = [(fast, slow) for fast in FASTS for slow in SLOWS]
PROCESSES = (1, 2, 4)
GOAL = 20.0
GOAL_VECTORBT = 1.0  # ours on one process against vectorbt's sweep (which runs on one core)
EQUITY_TOLERANCE = 0.01  # USDT per cell between the engines


def run_ours(frame: pd.DataFrame) -> tuple[dict, dict[int, float]]:
    results, seconds = None, {}
    for processes in PROCESSES:
        started = time.perf_counter()
        cells = sweep.sweep(frame, CELLS, reference.engine_config(), processes=processes)
        seconds[processes] = time.perf_counter() - started
        found = {(cell.fast, cell.slow): cell.final_equity for cell in cells}
        assert results is None or found == results, "the process pool changed a result"
        results = found
    return results, seconds


def run_through_optuna(frame: pd.DataFrame) -> float:
    """The same cells asked and told through Optuna (the grid sampler of ``trades.optimise``), in memory, on one
    process: what the study machinery costs per trial on top of the backtest."""
    import optuna
    from optuna.distributions import IntDistribution

    from trades.optimise.study import CellSampler

    started = time.perf_counter()
    grid = sweep.Grid(frame, [*FASTS, *SLOWS], reference.engine_config())
    study = optuna.create_study(direction="maximize", storage=optuna.storages.InMemoryStorage())
    space = {"fast": IntDistribution(5, 50, step=5), "slow": IntDistribution(20, 200, step=20)}
    for fast, slow in CELLS:
        study.sampler = CellSampler({"fast": fast, "slow": slow})
        trial = study.ask(space)
        study.tell(trial, grid.cell(trial.params["fast"], trial.params["slow"]).final_equity)
    return time.perf_counter() - started


def run_vectorbt(frame: pd.DataFrame) -> tuple[dict, float, float]:
    import vectorbt as vbt

    def once(part: pd.DataFrame) -> dict:
        close = part["close"].copy()
        close.index = close.index.tz_localize(None)  # vectorbt wants a naive index
        open_ = part["open"].copy()
        open_.index = close.index
        ema = vbt.IndicatorFactory.from_talib("EMA")
        fast = ema.run(close, timeperiod=[cell[0] for cell in CELLS]).real.to_numpy()
        slow = ema.run(close, timeperiod=[cell[1] for cell in CELLS]).real.to_numpy()
        columns = pd.MultiIndex.from_tuples(CELLS, names=["fast", "slow"])
        up, down = np.zeros_like(fast, dtype=bool), np.zeros_like(fast, dtype=bool)
        up[1:] = (fast[1:] > slow[1:]) & (fast[:-1] <= slow[:-1])
        down[1:] = (fast[1:] < slow[1:]) & (fast[:-1] >= slow[:-1])
        # A signal on minute t fills at t+1's open: the signals move one minute later and fill at that open.
        entries = pd.DataFrame(up, index=close.index, columns=columns).shift(1, fill_value=False)
        shorts = pd.DataFrame(down, index=close.index, columns=columns).shift(1, fill_value=False)
        portfolio = vbt.Portfolio.from_signals(close, entries=entries, short_entries=shorts, price=open_, size=1.0,
                                               size_type="amount", fees=float(reference.FEE), init_cash=reference.CASH,
                                               upon_opposite_entry="reverse", freq="1min")
        return {cell: float(value) for cell, value in portfolio.final_value().items()}

    started = time.perf_counter()
    once(frame.iloc[:5_000])  # numba compiles here
    first = time.perf_counter() - started
    started = time.perf_counter()
    results = once(frame)
    return results, time.perf_counter() - started, first


EMAS: dict[int, np.ndarray] = {}  # the EMA arrays backtesting.py's strategy reads (its pool forks: they come along)


class EmaCross(Strategy):
    """backtesting.py's side: the same arrays, the same crossover rule, one bar at a time."""

    fast, slow = 9, 21

    def init(self):
        self.fast_ema = self.I(lambda: EMAS[self.fast], name="fast")
        self.slow_ema = self.I(lambda: EMAS[self.slow], name="slow")

    def next(self):
        fast, slow = self.fast_ema, self.slow_ema
        # strategies.rules.crossed, spelled for one bar: now strictly across, before at or behind.
        if fast[-1] > slow[-1] and fast[-2] <= slow[-2] and not self.position.is_long:
            self.buy(size=1)
        elif fast[-1] < slow[-1] and fast[-2] >= slow[-2] and not self.position.is_short:
            self.sell(size=1)


def run_backtesting_py(frame: pd.DataFrame, cells: list[tuple[int, int]]) -> tuple[dict, float, float]:
    EMAS.update(sweep.Grid(frame, [period for cell in cells for period in cell], reference.engine_config()).emas)
    data = frame.rename(columns=str.capitalize)
    data.index = data.index.tz_localize(None)
    backtest = Backtest(data, EmaCross, cash=reference.CASH, commission=float(reference.FEE), exclusive_orders=True,
                        trade_on_close=False, finalize_trades=False)
    wanted = set(cells)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        backtest.run(fast=cells[0][0], slow=cells[0][1])
        one_run = time.perf_counter() - started
        started = time.perf_counter()
        _, heatmap = backtest.optimize(fast=sorted({c[0] for c in cells}), slow=sorted({c[1] for c in cells}),
                                       constraint=lambda p: (p.fast, p.slow) in wanted,
                                       maximize="Equity Final [$]", return_heatmap=True)
        elapsed = time.perf_counter() - started
    results = {(int(fast), int(slow)): float(value) for (fast, slow), value in heatmap.dropna().items()}
    return results, elapsed, one_run


def best(results: dict) -> tuple[int, int]:
    """The cell with the highest final equity among those that trade (fast == slow never crosses: it keeps the
    balance untouched, which beats every fee-paying cell on a random walk and would make agreeing trivial)."""
    trading = [cell for cell in results if cell[0] != cell[1]]
    return max(trading, key=lambda cell: (results[cell], -cell[0], -cell[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-minutes", type=int, default=None,
                        help="synthetic minutes before the real month (default: a full year in all)")
    parser.add_argument("--reference-cells", type=int, default=4,
                        help="cells backtesting.py's optimize runs (the rest extrapolated; 100: all of them)")
    parser.add_argument("--skip-reference", action="store_true", help="time ours (and vectorbt) only")
    args = parser.parse_args()
    real = len(reference.load_minutes(str(HERE.parent / "exchange/data/BTCUSDT_1m.csv.gz")))
    synthetic = args.synthetic_minutes if args.synthetic_minutes is not None else reference.YEAR_MINUTES - real
    frame = reference.year_of_minutes(synthetic)
    cores = os.cpu_count() or 1
    print(f"data: {len(frame):,} 1-minute candles ({synthetic:,} synthetic, seeded, + {real:,} real BTCUSDT), "
          f"{frame.index[0]:%Y-%m-%d} to {frame.index[-1]:%Y-%m-%d}")
    print(f"grid: {len(CELLS)} cells, EMA fast {FASTS.start}..{FASTS.stop - FASTS.step} step {FASTS.step} x slow "
          f"{SLOWS.start}..{SLOWS.stop - SLOWS.step} step {SLOWS.step} on 1-minute candles; long/short, 1 BTC, fee "
          f"{reference.FEE * 100:g}% per side, next open; this machine has {cores} cores\n")

    ours, ours_s = run_ours(frame)
    optuna_s = run_through_optuna(frame)
    vbt, vbt_s, vbt_first = run_vectorbt(frame)
    rows = [("engine", "cells", "seconds", "cells/s", "")]
    for processes, seconds in ours_s.items():
        rows.append((f"ours, {processes} process{'es' if processes > 1 else ''}", str(len(CELLS)), f"{seconds:.2f}",
                     f"{len(CELLS) / seconds:.2f}", "fork process pool"))
    rows.append(("ours through Optuna ask/tell", str(len(CELLS)), f"{optuna_s:.2f}", f"{len(CELLS) / optuna_s:.2f}",
                 "1 process, in-memory study"))
    rows.append(("vectorbt broadcast sweep", str(len(CELLS)), f"{vbt_s:.2f}", f"{len(CELLS) / vbt_s:.2f}",
                 f"after a {vbt_first:.1f} s first call (numba compiling)"))
    ok = True
    if not args.skip_reference:
        subset = CELLS[::max(1, len(CELLS) // args.reference_cells)][:args.reference_cells]
        theirs, theirs_s, one_run = run_backtesting_py(frame, subset)
        # optimize = the cells in its pool, then the best one run again in this process: only the first part scales.
        estimate = one_run + (theirs_s - one_run) * len(CELLS) / len(subset)
        extrapolated = "" if len(subset) == len(CELLS) else (
            f"timed on {len(subset)} cells ({theirs_s:.1f} s, one run {one_run:.1f} s), extrapolated")
        rows.append((f"backtesting.py optimize ({cores} processes)", f"{len(CELLS)}", f"{estimate:.1f}",
                     f"{len(CELLS) / estimate:.3f}", extrapolated))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.rjust(width) if 0 < i < 4 else cell.ljust(width)
                        for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip())

    same = best(ours) == best(vbt)
    gap = max(abs(ours[cell] - vbt[cell]) for cell in CELLS)
    print(f"\nbest cell (final equity): ours {best(ours)} {ours[best(ours)]:,.2f}, vectorbt {best(vbt)} "
          f"{vbt[best(vbt)]:,.2f}: {'agree' if same else 'DISAGREE'}; the 100 final equities differ by at most "
          f"{gap:.4f} USDT")
    ok = same and gap <= EQUITY_TOLERANCE
    pooled = ours_s.get(cores, min(ours_s.values()))
    per_core = len(CELLS) / ours_s[1] / (len(CELLS) / vbt_s)
    print(f"goal: ours on 1 process (per core) >= vectorbt's sweep in cells per second: "
          f"{'met' if per_core >= GOAL_VECTORBT else 'NOT met'} ({per_core:.2f}x: {len(CELLS) / ours_s[1]:.2f} against "
          f"{len(CELLS) / vbt_s:.2f} cells/s)")
    ok = ok and per_core >= GOAL_VECTORBT
    if not args.skip_reference:
        mine = {cell: ours[cell] for cell in theirs}
        agree = best(mine) == best(theirs) == best({cell: vbt[cell] for cell in theirs})
        their_gap = max(abs(mine[cell] - theirs[cell]) for cell in theirs)
        print(f"best of the {len(theirs)} cells backtesting.py ran: ours {best(mine)}, vectorbt "
              f"{best({cell: vbt[cell] for cell in theirs})}, backtesting.py {best(theirs)}: "
              f"{'agree' if agree else 'DISAGREE'}; their final equities differ from ours by at most "
              f"{their_gap:.4f} USDT")
        ratio = estimate / pooled
        print(f"ratios (cells per second): ours with {cores} processes (as many as backtesting.py's pool) "
              f"{ratio:.1f}x backtesting.py's optimize; ours on 1 process {estimate / ours_s[1]:.1f}x; "
              f"vectorbt {pooled / vbt_s:.1f}x ours")
        ok = ok and agree and their_gap <= EQUITY_TOLERANCE
        print(f"goal: >= {GOAL:g}x backtesting.py's optimize: {'met' if ratio >= GOAL else 'NOT met'} "
              f"({ratio:.1f}x)")
        ok = ok and ratio >= GOAL
    print("wall time with " + ", ".join(f"{p} process{'es' if p > 1 else ''} {s:.2f} s" for p, s in ours_s.items())
          + f" (a fork process pool over the cells; {cores} cores here)")
    print("goals: " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
