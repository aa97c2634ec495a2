"""Exponential smoothing over a whole column at once: the recurrence behind EMAs and Wilder's averages, solved in
blocks of cumulative sums instead of one dependent step per row (``strategies.indicators`` uses and re-exports
these; they work in place, since on a million candles a fresh 8 MB array costs more than the arithmetic)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def wilder_average(values: np.ndarray, period: int, first: int) -> np.ndarray:
    """Wilder's smoothing: NaN before row ``first``, there the mean of the ``period`` values ending at
    it, then ``avg = avg_prev + (value - avg_prev) / period``. Overwrites ``values``."""
    if len(values) <= first:
        return np.full(len(values), np.nan)
    values[first] = values[first - period + 1:first + 1].mean()
    return exponential_smoothing(values, 1.0 / period, start=first)


def exponential_smoothing(values: np.ndarray, alpha: float, start: int = 0) -> np.ndarray:
    """``y[start] = values[start]``, then ``y[t] = y[t-1] + alpha * (values[t] - y[t-1])``; NaN before
    ``start``. The same numbers as pandas' ``ewm(alpha=alpha, adjust=False).mean()`` (to ~1e-12).
    Computed in place: overwrites and returns ``values`` (float64).

    A recurrence is one long chain of dependent steps, so it is solved in blocks instead: within a
    block, ``y[i] = d**i * (alpha * cumsum(values[k] / d**k) + level * d)`` with ``d = 1 - alpha`` and
    ``level`` the value before the block; only the block levels (one per block) are chained in Python.
    The block is short enough that ``d**-block`` stays far from overflowing.
    """
    n = len(values) - start
    values[:start] = np.nan
    decay = 1.0 - alpha
    if n <= 1 or decay <= 0.0:
        return values
    if np.isnan(values[start:]).any():  # a gap: pandas steps over it, where the block sums would carry it on
        values[start:] = pd.Series(values[start:]).ewm(alpha=alpha, adjust=False).mean().to_numpy()
        return values
    block = int(min(4096, max(8, 250 / -np.log10(decay)), max(8, n)))  # a live frame: one block of its length
    powers = decay ** np.arange(block, dtype="float64")
    full_rows, tail = divmod(n, block)
    end = start + full_rows * block
    level = float(values[start])  # so that y[start] = d * level + alpha * values[start] = values[start]
    if full_rows:
        level = _smooth_blocks(values[start:end].reshape(full_rows, block), alpha, powers, level)
    if tail:  # the last, partial block, padded with zeros (none on a live frame: its one block is its length)
        rest = np.zeros((1, block))
        rest[0, :tail] = values[end:]
        _smooth_blocks(rest, alpha, powers, level)
        values[end:] = rest[0, :tail]
    return values


def _smooth_blocks(grid: np.ndarray, alpha: float, powers: np.ndarray, level: float) -> float:
    """Smooth each row of ``grid`` (consecutive blocks) in place, from ``level``; return the last value."""
    decay, block = powers[1], len(powers)
    np.multiply(grid, alpha / powers, out=grid)
    np.cumsum(grid, axis=1, out=grid)
    block_ends, step = grid[:, -1] * powers[-1], decay ** block
    levels = np.empty(len(grid))
    for row in range(len(grid)):
        levels[row] = level * decay
        level = block_ends[row] + level * step
    grid += levels[:, None]
    grid *= powers
    return level
