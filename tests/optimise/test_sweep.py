"""The EMA grid sweep: each cell is the backtest engine's run of that crossover, whichever way the engine takes."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from market.types import InstrumentRules
from strategies.rules import crossed
from strategies.sdk.indicators import ema
from trades.backtest.engine import EngineConfig, LazyTrades, Minutes, simulate
from trades.backtest.inputs import signal_events
from trades.optimise import sweep
from trades.risk import RiskParams

CELLS = [(3, 8), (5, 13), (8, 21), (5, 5)]


def frame_of(count: int = 3000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, count)))
    open_ = np.concatenate([[100.0], close[:-1]])
    values = np.round(np.column_stack([open_, np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999,
                                       close, np.ones(count)]), 2)
    index = pd.date_range("2026-01-01", periods=count, freq="1min", tz="UTC", name="start")
    return pd.DataFrame(values, index=index, columns=["open", "high", "low", "close", "volume"])


def config() -> EngineConfig:
    rules = InstrumentRules("TESTUSDT", tick_size=Decimal("0.01"), qty_step=Decimal("0.001"), min_qty=Decimal("0.001"),
                            max_qty=Decimal("1000"))
    return EngineConfig(rules=rules, risk=RiskParams(Decimal("1"), Decimal("1"), Decimal("2")),
                        initial_balance=Decimal("100000"), fee_rate=Decimal("0.00055"), slippage_bps=Decimal("0"),
                        max_notional=Decimal("1e12"), fixed_qty=Decimal("1"), protective_stops=False, reverse=True)


def test_every_cell_is_the_engines_loop_result():
    frame = frame_of()
    minutes = Minutes.from_frame(frame)
    cells = sweep.sweep(frame, CELLS, config())
    assert [(cell.fast, cell.slow) for cell in cells] == CELLS
    for cell in cells:
        fast, slow = ema(frame["close"], cell.fast).to_numpy(), ema(frame["close"], cell.slow).to_numpy()
        actions = crossed(fast, slow, above=True).astype(np.int8) - crossed(fast, slow, above=False).astype(np.int8)
        events = signal_events(frame, actions, "1", minutes.start)
        # "Go ahead" to every signal: no decision changes, but the engine takes its loop.
        loop = simulate(minutes, events, config(), ai_filter=lambda event: "")
        assert isinstance(loop.trades, list)
        assert (cell.final_equity, cell.trades) == (loop.final_equity, len(loop.trades))
    assert cells[-1].trades == 0 and cells[0].trades > 20, "fast == slow never crosses; the others trade"


def test_a_cell_is_resolved_in_numpy():
    grid = sweep.Grid(frame_of(), [8, 21], config())
    fast, slow = grid.emas[8], grid.emas[21]
    actions = crossed(fast, slow, above=True).astype(np.int8) - crossed(fast, slow, above=False).astype(np.int8)
    result = simulate(grid.minutes, signal_events(grid.frame, actions, "1", grid.minutes.start), grid.config)
    assert isinstance(result.trades, LazyTrades)
    assert grid.cell(8, 21).final_equity == result.final_equity
