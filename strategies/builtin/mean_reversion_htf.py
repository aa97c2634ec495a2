"""Bollinger/RSI mean reversion on 5-minute candles, taken only in the direction of the 1-hour trend.

The idea: in an uptrend, a sharp dip is more often bought than continued. So on 5-minute candles, enter long when
the price has been stretched below the lower Bollinger band with RSI oversold and the candle closes back inside
the band (the stretch is ending, not still running), but only while the 1-hour close is above its EMA (the trend
is up). Shorts are the mirror image in a 1-hour downtrend. The trade aims at the middle band: a long is left when
the close gets back to it (or RSI turns overbought), a short likewise.

The 1-hour candles come through ``informative_timeframes``: the bot hands them over as
``metadata["informative"]["1h"]`` (closed candles only), and ``merge_informative`` puts each 1-hour value on the
5-minute rows that closed after that hour had closed, so a row never sees an hour still forming.
"""

from __future__ import annotations

import pandas as pd

from strategies.sdk.base import IStrategy
from strategies.sdk.indicators import bollinger, crossed_above, crossed_below, ema, rsi
from strategies.sdk.kernel import merge_informative
from strategies.sdk.parameters import DecimalParameter, IntParameter

TREND_TIMEFRAME = "1h"


class MeanReversionHTF(IStrategy):
    """Buy 5-minute dips below the Bollinger band with RSI oversold while the 1-hour trend is up (sell rips in a
    downtrend), out at the middle band."""

    strategy_key = "mean_reversion_htf"
    timeframe = "5m"
    informative_timeframes = (TREND_TIMEFRAME,)
    startup_candle_count = 100
    can_short = True
    stoploss = -0.015
    take_profit = 0.02
    exit_after_candles = 48  # four hours: a reversion that has not come in by then is not coming

    bb_period = IntParameter(10, 50, default=20, help="Bollinger Bands period in candles.")
    bb_std = DecimalParameter(1.0, 3.5, default=2.0, decimals=1, help="Band width in standard deviations.")
    rsi_period = IntParameter(5, 30, default=14, help="RSI period in candles.")
    rsi_oversold = IntParameter(10, 45, default=30, help="RSI at or below this is oversold.")
    rsi_overbought = IntParameter(55, 90, default=70, help="RSI at or above this is overbought.")
    trend_ema = IntParameter(10, 100, default=50, help="EMA of the 1-hour closes that defines the trend.")
    lookback = IntParameter(1, 10, default=3, help="Candles in which the stretch must have happened.")

    def populate_indicators(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        hourly = metadata["informative"][TREND_TIMEFRAME].copy()
        hourly["trend_ema"] = ema(hourly["close"], self.trend_ema.value)
        frame = merge_informative(frame, hourly, self.timeframe, TREND_TIMEFRAME, columns=["close", "trend_ema"])
        bands = bollinger(frame["close"], self.bb_period.value, self.bb_std.value)
        frame["bb_lower"], frame["bb_middle"], frame["bb_upper"] = bands["lower"], bands["middle"], bands["upper"]
        frame["rsi"] = rsi(frame["close"], self.rsi_period.value)
        return frame

    def populate_entry_trend(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        window = self.lookback.value
        uptrend = frame["close_60"] > frame["trend_ema_60"]
        downtrend = frame["close_60"] < frame["trend_ema_60"]
        stretched_down = ((frame["close"] < frame["bb_lower"]) & (frame["rsi"] <= self.rsi_oversold.value))
        stretched_up = ((frame["close"] > frame["bb_upper"]) & (frame["rsi"] >= self.rsi_overbought.value))
        # "On one of the last ``window`` candles": a rolling max of the flag over closed rows only.
        was_down = stretched_down.astype(float).rolling(window, min_periods=1).max().astype(bool)
        was_up = stretched_up.astype(float).rolling(window, min_periods=1).max().astype(bool)
        back_inside_up = crossed_above(frame["close"], frame["bb_lower"])
        back_inside_down = crossed_below(frame["close"], frame["bb_upper"])
        frame.loc[uptrend & was_down & back_inside_up, ["enter_long", "enter_tag"]] = (
            True, "dip below the lower band with RSI oversold, back inside, 1h trend up")
        frame.loc[downtrend & was_up & back_inside_down, ["enter_short", "enter_tag"]] = (
            True, "rip above the upper band with RSI overbought, back inside, 1h trend down")
        return frame

    def populate_exit_trend(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        frame.loc[(frame["close"] >= frame["bb_middle"]) | (frame["rsi"] >= self.rsi_overbought.value),
                  ["exit_long", "exit_tag"]] = (True, "back at the middle band")
        frame.loc[(frame["close"] <= frame["bb_middle"]) | (frame["rsi"] <= self.rsi_oversold.value),
                  ["exit_short", "exit_tag"]] = (True, "back at the middle band")
        return frame
