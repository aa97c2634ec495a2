"""A perpetual's costs in a backtest: funding every 8 hours (``market.funding``) laid on the run's 1-minute candles.

``FundingSchedule.build`` turns the funding times inside the candles into candle indices once per run, so a
trade's funding is a slice of a sorted array (``searchsorted``), never a walk over its candles: a run without
funding (``EngineConfig.funding`` None) does no work at all. The engine sums it in floats to decide (its cash);
the ledger recomputes every payment in Decimal (``payments``), as the paper exchange books it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from market import funding


@dataclass(frozen=True)
class FundingSchedule:
    bar: np.ndarray  # int64 per funding time: the first 1-minute candle opening at or after it
    rate: np.ndarray  # float64 per funding time
    rates: tuple[Decimal, ...]  # the same, in Decimal, for the ledger
    assumed: int  # how many of the times had no rate in the data (ASSUMED_RATE stood in)

    @classmethod
    def build(cls, starts: np.ndarray, rates: Mapping[int, Decimal]) -> FundingSchedule:
        """The funding times after the first candle's open and up to the last one's (``starts``: int64 ns);
        ``rates`` by funding time in epoch ms (empty: none known, all assumed)."""
        if len(starts) < 2:
            return cls(np.zeros(0, dtype=np.int64), np.zeros(0), (), 0)
        times = funding.times_ns(int(starts[0]), int(starts[-1]))
        bars = np.searchsorted(starts, times, side="left").astype(np.int64)
        looked_up = [funding.rate_at(rates, int(t) // 1_000_000) for t in times]
        decimals = tuple(rate for rate, _ in looked_up)
        return cls(bars, np.array([float(rate) for rate in decimals], dtype="float64"), decimals,
                   sum(1 for _, assumed in looked_up if assumed))

    @property
    def note(self) -> str:
        return funding.ASSUMED_NOTE if self.assumed else ""

    def held(self, entry_bar: int, exit_bar: int) -> slice:
        """The funding times a position opened at ``entry_bar`` and closed at ``exit_bar`` was held at
        (``entry < T <= exit``, in candles)."""
        return slice(int(np.searchsorted(self.bar, entry_bar, side="right")),
                     int(np.searchsorted(self.bar, exit_bar, side="right")))

    def amounts(self, held: slice, direction: int, sizes: np.ndarray, close: np.ndarray) -> np.ndarray:
        """Float cash moves (the holder's gain) at the times of ``held``, for the position ``sizes`` then."""
        return -direction * sizes * close[self.bar[held] - 1] * self.rate[held]


def sizes_at(bars: np.ndarray, qty: float, parts: list[tuple[int, float]]) -> np.ndarray:
    """What was still held at each funding candle: parts closed at earlier candles are gone; one closed in the
    funding candle itself was still held at its open (funding comes first)."""
    held = np.full(len(bars), qty, dtype="float64")
    for bar, size in parts:
        held[bars > bar] -= size
    return held
