"""The kernel hands the hooks a frame they may write to freely: the caller's candles never change."""

import numpy as np
import pandas as pd

from strategies.sdk import IStrategy
from strategies.sdk.kernel import populate


class Scribbler(IStrategy):
    startup_candle_count = 1

    def populate_indicators(self, frame, metadata):
        frame["close"] = frame["close"] * 2  # a column replaced
        frame.loc[frame.index[0], "open"] = -1.0  # and a cell written in place
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = frame["close"] > 0
        return frame


def test_hooks_writing_to_the_frame_leave_the_callers_candles_unchanged():
    index = pd.date_range("2026-04-01", periods=5, freq="5min", tz="UTC")
    candles = pd.DataFrame({name: np.arange(1.0, 6.0) for name in ("open", "high", "low", "close", "volume")},
                           index=index)
    before = candles.copy(deep=True)

    result = populate(Scribbler(), candles, {"pair": "BTCUSDT"})

    pd.testing.assert_frame_equal(candles, before)
    assert result.frame["close"].tolist() == [2.0, 4.0, 6.0, 8.0, 10.0] and result.frame["open"].iat[0] == -1.0
    assert result.entries.tolist() == [1, 1, 1, 1, 1]
