"""A backtest's equity curve from its fills, in arrays: cash moved at each fill, plus what is held marked at each close.

Shared by the engine's loop (``engine._result``) and its vectorized resolution (``fast_path``), so the two produce the
same floats from the same columns: every sum here runs in the same order whichever of them supplies the columns.
"""

from __future__ import annotations

import numpy as np


def curve(close: np.ndarray, initial: float, cash_bar: np.ndarray, cash_amount: np.ndarray, entry_bar: np.ndarray,
          exit_bar: np.ndarray, signed: np.ndarray, remaining: np.ndarray, entry_price: np.ndarray,
          part_bar: np.ndarray, part_signed: np.ndarray, part_entry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(equity at each candle's close, how many positions were open at it), for ``len(close)`` candles.

    ``cash_bar``/``cash_amount``: every cash move at a fill, in the order they are summed per candle (entry fees,
    then exits, partial exits, funding). ``exit_bar`` is ``len(close)`` for a trade still open. ``remaining``: the
    signed size closed at ``exit_bar`` (what partial exits, ``part_*``, left of ``signed``).
    """
    n = len(close)
    cash = np.zeros(n + 1)
    np.add.at(cash, cash_bar, cash_amount)
    # What is held at each close ([entry, exit) per trade) and its cost, for the unrealized PnL.
    held, cost, positions = np.zeros(n + 1), np.zeros(n + 1), np.zeros(n + 1, dtype=np.int64)
    np.add.at(positions, entry_bar, 1)
    np.subtract.at(positions, exit_bar, 1)
    np.add.at(held, entry_bar, signed)
    np.subtract.at(held, exit_bar, remaining)
    np.subtract.at(held, part_bar, part_signed)
    np.add.at(cost, entry_bar, signed * entry_price)
    np.subtract.at(cost, exit_bar, remaining * entry_price)
    np.subtract.at(cost, part_bar, part_signed * part_entry)
    open_count = np.cumsum(positions[:n])
    # Flat candles get exactly zero, not the residue of adding and removing the same float.
    holding = open_count > 0
    held = np.where(holding, np.cumsum(held[:n]), 0.0)
    cost = np.where(holding, np.cumsum(cost[:n]), 0.0)
    equity = initial + np.cumsum(cash[:n]) + held * close - cost
    return equity, open_count
