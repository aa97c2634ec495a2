"""Donchian channel breakout with a volume filter and a stop set in ATRs.

The idea (the Turtles' rule): a close beyond the highest high (or lowest low) of the last ``channel`` candles is the
start of a move worth joining. Two refinements keep it from chasing noise:

* the channel is the one of the candles *before* this one (``.shift(1)``): a candle cannot break out of a channel
  it is part of; and only the first close beyond it is an entry, not every candle of the move that follows;
* with ``use_volume``, the breakout candle must trade at least ``volume_factor`` times the average volume of the
  last ``volume_period`` candles: a breakout nobody trades is usually a wick.

A long is left when the close falls below the lowest low of the last ``exit_channel`` candles (a shorter channel,
so winners run and losers are cut early), a short when it rises above the highest high. The stop sits
``atr_stop`` ATRs from the price (``custom_stoploss``): wide in a volatile market, tight in a quiet one, and since
a stop only ever moves in the trade's favour it trails as the price moves on.
"""

from __future__ import annotations

import pandas as pd

from market.intervals import interval_delta
from strategies.sdk.base import IStrategy
from strategies.sdk.indicators import (
    atr,
    crossed_above,
    crossed_below,
    donchian,
    highest,
    lowest,
    relative_volume,
)
from strategies.sdk.parameters import BooleanParameter, DecimalParameter, IntParameter


class DonchianBreakout(IStrategy):
    """Breakout of the last N candles' high or low, confirmed by volume, with a stop a few ATRs away."""

    strategy_key = "donchian_breakout"
    timeframe = "15m"
    startup_candle_count = 120  # the longest channel (100) and the ATR's settling
    can_short = True
    stoploss = -0.03  # the widest stop; custom_stoploss tightens it to atr_stop ATRs
    take_profit = None  # no fixed target: the exit channel decides
    partial_take_profits = ((0.03, 0.5),)  # bank half at +3 %, let the rest run

    channel = IntParameter(10, 100, default=20, help="Entry channel length in candles.")
    exit_channel = IntParameter(5, 50, default=10, help="Exit channel length in candles.")
    atr_period = IntParameter(5, 50, default=14, help="ATR period in candles.")
    atr_stop = DecimalParameter(0.5, 5.0, default=2.0, decimals=1, help="Stop distance in ATRs.")
    use_volume = BooleanParameter(default=True, help="Only take breakouts on above-average volume.")
    volume_period = IntParameter(5, 100, default=20, help="Candles in the average volume.")
    volume_factor = DecimalParameter(1.0, 5.0, default=2.0, decimals=1,
                                     help="Volume of the breakout candle, in multiples of the average.")

    def __init__(self, parameters: dict | None = None):
        super().__init__(parameters)
        # The stop distance (ATR / close) per pair, by candle: custom_stoploss reads the newest closed one.
        self._stop_distances: dict[str, pd.Series] = {}

    def populate_indicators(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        entry = donchian(frame["high"], frame["low"], self.channel.value)
        frame["channel_upper"] = entry["upper"].shift(1)
        frame["channel_lower"] = entry["lower"].shift(1)
        frame["exit_upper"] = highest(frame["high"], self.exit_channel.value).shift(1)
        frame["exit_lower"] = lowest(frame["low"], self.exit_channel.value).shift(1)
        frame["atr"] = atr(frame["high"], frame["low"], frame["close"], self.atr_period.value)
        frame["relative_volume"] = relative_volume(frame["volume"], self.volume_period.value)
        stop_distance = frame["atr"] * self.atr_stop.value / frame["close"]
        closes_at = frame.index + interval_delta(self.interval())
        self._stop_distances[metadata.get("pair", "")] = pd.Series(stop_distance.to_numpy(), index=closes_at)
        return frame

    def populate_entry_trend(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        traded = frame["relative_volume"] >= self.volume_factor.value if self.use_volume.value else True
        # The first close beyond the channel: the candles after it are the move, not its start.
        breaks_up = crossed_above(frame["close"], frame["channel_upper"])
        breaks_down = crossed_below(frame["close"], frame["channel_lower"])
        frame.loc[breaks_up & traded, ["enter_long", "enter_tag"]] = (
            True, f"close above the {self.channel.value}-candle high")
        frame.loc[breaks_down & traded, ["enter_short", "enter_tag"]] = (
            True, f"close below the {self.channel.value}-candle low")
        return frame

    def populate_exit_trend(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        frame.loc[frame["close"] < frame["exit_lower"], ["exit_long", "exit_tag"]] = (
            True, f"close below the {self.exit_channel.value}-candle low")
        frame.loc[frame["close"] > frame["exit_upper"], ["exit_short", "exit_tag"]] = (
            True, f"close above the {self.exit_channel.value}-candle high")
        return frame

    def custom_stoploss(self, trade: dict, current_time, current_rate: float, current_profit: float,
                        **kwargs) -> float | None:
        """``atr_stop`` ATRs below the current rate, with the ATR of the newest candle closed at ``current_time``
        (never a later one, so a backtest sees what the live cycle saw); None (keep the stop) before the first."""
        distances = self._stop_distances.get(trade.get("pair", ""))
        if distances is None:
            return None
        closed = distances.loc[:_utc(current_time)].dropna()
        return -float(closed.iat[-1]) if len(closed) else None


def _utc(moment) -> pd.Timestamp:
    """``moment`` as a UTC timestamp (a naive one is taken as UTC, as the bot's clocks are)."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")
