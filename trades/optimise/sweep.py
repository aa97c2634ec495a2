"""The optimiser's fast path for an EMA crossover grid: every EMA computed once per period and shared by the cells
that use it, each cell's trades simulated by the backtest engine (``trades.backtest.engine.simulate``, the fills
and fees of every backtest), the cells spread over forked processes that inherit the shared columns.

``benchmarks/optimise_bench.py`` measures it against backtesting.py's ``Backtest.optimize`` and vectorbt's sweep on
the same candles. A cell with the benchmark's settings (a fixed size, no stops) takes the engine's vectorized
resolution (``trades.backtest.fast_path``) and counts its trades without building them as objects. The EMA is the
one ``ema_crossover`` uses (``strategies.sdk.indicators.ema``, TA-Lib's) and the crossover rule is
``strategies.rules.crossed``: on 1-minute candles, long on the fast EMA crossing above the slow one, short on the
cross below, each signal filled at the next minute's open.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
import pandas as pd

from strategies.rules import crossed
from strategies.sdk.indicators import ema
from trades.backtest.engine import EngineConfig, Minutes, simulate
from trades.backtest.inputs import signal_events


@dataclass(frozen=True)
class SweepCell:
    fast: int
    slow: int
    final_equity: float
    trades: int
    max_drawdown_pct: float


class Grid:
    """One frame's minutes and EMA columns (each period once), and the engine's settings: any cell on demand."""

    def __init__(self, frame: pd.DataFrame, periods, config: EngineConfig):
        self.frame, self.config = frame, config
        self.minutes = Minutes.from_frame(frame)
        self.emas = {period: ema(frame["close"], period).to_numpy(dtype="float64") for period in sorted(set(periods))}

    def cell(self, fast_period: int, slow_period: int) -> SweepCell:
        fast, slow = self.emas[fast_period], self.emas[slow_period]
        actions = crossed(fast, slow, above=True).astype(np.int8) - crossed(fast, slow, above=False).astype(np.int8)
        events = signal_events(self.frame, actions, "1", self.minutes.start)
        result = simulate(self.minutes, events, self.config)  # no stops, fixed size: resolved in numpy (fast_path)
        equity = result.equity
        peak = np.maximum.accumulate(equity)
        drawdown = float(((peak - equity) / peak).max() * 100) if len(equity) else 0.0
        return SweepCell(fast_period, slow_period, float(result.final_equity), len(result.trades), round(drawdown, 4))


_grid: Grid | None = None  # set before the pool forks: the children read their copy, nothing is pickled


def sweep(frame: pd.DataFrame, cells: list[tuple[int, int]], config: EngineConfig, *,
          processes: int = 1) -> list[SweepCell]:
    """Every (fast, slow) cell over ``frame`` (1-minute candles), in ``processes`` forked processes."""
    global _grid
    _grid = Grid(frame, [period for cell in cells for period in cell], config)
    if processes <= 1:
        return [_grid.cell(*cell) for cell in cells]
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("fork")) as pool:
        return list(pool.map(_cell, cells, chunksize=max(1, len(cells) // (processes * 4))))


def _cell(cell: tuple[int, int]) -> SweepCell:
    return _grid.cell(*cell)
