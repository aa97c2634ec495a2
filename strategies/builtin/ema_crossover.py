"""The smallest useful strategy, as a reading aid: two EMAs crossing.

Enter long when the fast EMA crosses above the slow one, short when it crosses below; leave on the opposite cross.
Nothing else: no filter, no custom stop (the class's ``stoploss`` and ``take_profit`` are the defaults a new
Strategy row of this class starts with). Start here, then read ``donchian_breakout`` and ``mean_reversion_htf``.
"""

from __future__ import annotations

import pandas as pd

from strategies.sdk.base import IStrategy
from strategies.sdk.indicators import crossed_above, crossed_below, ema
from strategies.sdk.parameters import IntParameter, ParameterError


class EmaCrossover(IStrategy):
    """Trend following at its simplest: long on the fast EMA crossing above the slow one, short on the cross below,
    out on the opposite cross."""

    strategy_key = "ema_crossover"
    timeframe = "15"
    startup_candle_count = 200  # the slow EMA at its longest, settled
    can_short = True
    stoploss = -0.02
    take_profit = 0.04

    fast = IntParameter(3, 50, default=9, help="Fast EMA period in candles.")
    slow = IntParameter(10, 200, default=21, help="Slow EMA period in candles (above the fast one).")

    @classmethod
    def clean_parameters(cls, values: dict | None) -> dict:
        cleaned = super().clean_parameters(values)
        if cleaned["fast"] >= cleaned["slow"]:
            # A rule across two parameters: refused with both names, like a range error, never swapped silently.
            raise ParameterError(f"fast must be below slow, got fast={cleaned['fast']} and slow={cleaned['slow']}.")
        return cleaned

    def populate_indicators(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        frame["ema_fast"] = ema(frame["close"], self.fast.value)
        frame["ema_slow"] = ema(frame["close"], self.slow.value)
        return frame

    def populate_entry_trend(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        up = crossed_above(frame["ema_fast"], frame["ema_slow"])
        down = crossed_below(frame["ema_fast"], frame["ema_slow"])
        frame.loc[up, ["enter_long", "enter_tag"]] = (True, "fast EMA crossed above slow EMA")
        frame.loc[down, ["enter_short", "enter_tag"]] = (True, "fast EMA crossed below slow EMA")
        return frame

    def populate_exit_trend(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        down = crossed_below(frame["ema_fast"], frame["ema_slow"])
        up = crossed_above(frame["ema_fast"], frame["ema_slow"])
        frame.loc[down, ["exit_long", "exit_tag"]] = (True, "EMAs crossed down")
        frame.loc[up, ["exit_short", "exit_tag"]] = (True, "EMAs crossed up")
        return frame
