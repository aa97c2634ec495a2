"""The exit rules alone (``market.exits``): pure, worked by hand."""

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from market import exits
from market.candles import resample
from market.exits import candle_index, time_exit_minute
from market.instruments import BUNDLED_RULES

D = Decimal
RULES = BUNDLED_RULES["BTCUSDT"]  # tick 0.1, lot 0.001, minimum 0.001


def test_a_short_trail_follows_the_lowest_price_and_never_moves_back():
    trailing = exits.Trailing(distance=D("100"))
    stop, trailing = exits.trail_stop("Sell", D("61000"), trailing, high=D("60100"), low=D("59800"))
    assert stop == D("59900")
    stop, _ = exits.trail_stop("Sell", stop, trailing, high=D("60500"), low=D("59950"))  # 60050 would be worse
    assert stop == D("59900")


def test_trailing_waits_for_its_activation_price():
    trailing = exits.trailing_for("Buy", D("60000"), D("0.5"), D("1"), RULES)
    assert trailing == exits.Trailing(distance=D("300.0"), activation=D("60600.0"))
    assert exits.trail_stop("Buy", D("59400"), trailing, high=D("60599.9"), low=D("60000")) == (D("59400"), trailing)
    stop, active = exits.trail_stop("Buy", D("59400"), trailing, high=D("60600"), low=D("60000"))
    assert (stop, active.activation) == (D("60300.0"), None)


def test_targets_round_to_the_lot_and_the_last_of_a_whole_takes_what_is_left():
    levels = exits.target_levels("Buy", D("60000"), D("0.011"), ((D("1"), D("0.5")), (D("2"), D("0.5"))), RULES)
    assert levels == (exits.Target(D("60600.0"), D("0.005")), exits.Target(D("61200.0"), D("0.006")))
    tiny = exits.target_levels("Buy", D("60000"), D("0.001"), ((D("1"), D("0.3")),), RULES)
    assert tiny == ()  # 0.0003 rounds below the minimum order: Bybit would refuse it


def test_the_stop_wins_when_a_candle_reaches_both_it_and_a_target():
    plan = exits.ExitPlan("Buy", stop=D("59400"), targets=(exits.Target(D("60300"), D("0.005")),))
    outcome = exits.candle_step(plan, D("0.01"), D("60000"), D("60400"), D("59300"))
    assert outcome.fills == (exits.ExitFill(exits.STOP_LOSS, D("59400"), D("0.01")),) and outcome.closed


def test_a_target_gapped_through_at_the_open_fills_at_the_open():
    plan = exits.ExitPlan("Buy", stop=D("59400"), targets=(exits.Target(D("60300"), D("0.005")),))
    outcome = exits.candle_step(plan, D("0.01"), D("60500"), D("60600"), D("60400"))
    assert outcome.fills == (exits.ExitFill(exits.PARTIAL_TAKE_PROFIT, D("60500"), D("0.005"), at_open=True),)
    assert outcome.remaining == D("0.005") and outcome.plan.targets == ()


def test_the_time_exit_counts_candles_of_the_timeframe_from_the_entry_candle():
    opened = exits.candle_index(12 * 60 + 7, 5)  # 12:07 is in the 12:05 candle
    assert not exits.time_exit_due(opened, exits.candle_index(12 * 60 + 14, 5), 2)
    assert exits.time_exit_due(opened, exits.candle_index(12 * 60 + 15, 5), 2)
    assert exits.time_exit_minute(12 * 60 + 7, 2, 5) == 12 * 60 + 15
    assert not exits.time_exit_due(opened, opened + 100, None)


def test_weekly_candles_open_on_mondays_as_bybits_do_for_the_time_exit_and_the_resampling():
    def minute(moment: datetime) -> int:
        return int(moment.timestamp()) // 60

    week = 10080
    monday = datetime(2026, 4, 6, tzinfo=UTC)  # a Monday
    opened = minute(datetime(2026, 4, 8, 15, 30, tzinfo=UTC))  # the Wednesday after
    assert candle_index(opened, week) == candle_index(minute(monday), week)
    assert candle_index(minute(monday) - 1, week) == candle_index(minute(monday), week) - 1  # Sunday 23:59: before
    # Two weekly candles after the one it opened in: the Monday two weeks on, 00:00 UTC.
    assert time_exit_minute(opened, 2, week) == minute(datetime(2026, 4, 20, tzinfo=UTC))
    assert time_exit_minute(opened, 3, 1440) == minute(datetime(2026, 4, 11, tzinfo=UTC))  # days: unchanged

    index = pd.date_range(datetime(2026, 3, 30, tzinfo=UTC), periods=3 * week, freq="1min")
    frame = pd.DataFrame({column: np.ones(len(index)) for column in ("open", "high", "low", "close", "volume")},
                         index=index)
    weeks = resample(frame, "W")
    assert list(weeks.index) == [pd.Timestamp("2026-03-30", tz="UTC"), pd.Timestamp("2026-04-06", tz="UTC"),
                                 pd.Timestamp("2026-04-13", tz="UTC")]
    assert all(start.day_name() == "Monday" for start in weeks.index)
