"""Replayed market data: the clock, the still-forming newest candle, resampling, and the refusal of other symbols."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from exchange.models import ReplayState
from exchange.replay import ReplayClock, ReplayMarketData, load_minutes
from market.candles import bundled_files, candles_to_frame, closed_candles, resample
from market.errors import InvalidOrderError
from tests.helpers import SetClock

ANCHOR = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    return SetClock(ANCHOR + timedelta(minutes=30, seconds=20))


@pytest.fixture
def replay(clock):
    return ReplayMarketData(settings.CANDLE_DATA_DIR, anchor=ANCHOR, speed=1, now=clock)


def test_the_clock_maps_wall_time_to_data_time_after_the_warmup_and_wraps_around():
    start, end = datetime(2026, 3, 23, tzinfo=UTC), datetime(2026, 4, 22, tzinfo=UTC)
    wall = SetClock(ANCHOR)
    replay_clock = ReplayClock(data_start=start, data_end=end, anchor=ANCHOR, speed=10, warmup=timedelta(days=9),
                               now=wall)
    assert replay_clock.data_time() == start + timedelta(days=9)
    wall.now = ANCHOR + timedelta(minutes=6)
    assert replay_clock.data_time() == start + timedelta(days=9, minutes=60)  # ten data minutes per wall minute
    wall.now = ANCHOR + replay_clock.span / 10 + timedelta(minutes=1)
    assert replay_clock.data_time() == start + timedelta(days=9, minutes=10)  # back at the start, then onwards


def test_the_anchor_is_stored_so_a_restart_continues_the_replay(db):
    first = ReplayState.anchor_time()
    assert ReplayState.anchor_time() == first and ReplayState.objects.count() == 1


def test_the_ticker_is_the_open_of_the_minute_the_replay_clock_is_in(replay):
    now = replay.now()
    frame = load_minutes(str(bundled_files(settings.CANDLE_DATA_DIR)["BTCUSDT"]))
    minute = now.replace(second=0)
    assert now.second == 20
    assert replay.ticker("BTCUSDT").last_price == Decimal(repr(float(frame.loc[minute, "open"])))


def test_the_newest_candle_is_the_forming_one_and_the_others_are_closed(replay, clock):
    candles = replay.klines("ETHUSDT", "5", 12)
    assert len(candles) == 12
    assert all(b.start - a.start == timedelta(minutes=5) for a, b in zip(candles, candles[1:], strict=False))
    frame = candles_to_frame(candles)
    assert len(closed_candles(frame, "5", replay.now())) == 11  # only the forming one is dropped
    forming = candles[-1]
    assert forming.start <= replay.now() < forming.start + timedelta(minutes=5)
    assert forming.close == replay.ticker("ETHUSDT").last_price
    clock.now += timedelta(minutes=5)
    assert replay.klines("ETHUSDT", "5", 12)[-2].start == forming.start  # next time it is closed


def test_higher_intervals_are_resampled_from_the_bundled_minutes(replay):
    hourly = replay.klines("SOLUSDT", "60", 5)[:-1]
    frame = load_minutes(str(bundled_files(settings.CANDLE_DATA_DIR)["SOLUSDT"]))
    expected = resample(frame[(frame.index >= hourly[0].start) & (frame.index < hourly[-1].start + timedelta(hours=1))],
                        "60").round(8)
    assert [float(c.close) for c in hourly] == list(expected["close"])
    assert [float(c.high) for c in hourly] == list(expected["high"])


def test_minute_candles_are_the_closed_ones_between_two_times(replay):
    now = replay.now()  # 20 s into a minute
    candles = replay.minute_candles("BTCUSDT", now.replace(second=0) - timedelta(minutes=10), now)
    assert len(candles) == 10 and candles[-1].start + timedelta(minutes=1) <= now
    assert len(replay.minute_candles("BTCUSDT", now - timedelta(minutes=10), now)) == 9  # opened after the start
    assert replay.minute_candles("BTCUSDT", now, now - timedelta(minutes=1)) == []


def test_symbols_outside_the_bundled_data_are_refused_with_the_reason(replay):
    with pytest.raises(InvalidOrderError, match="not in the bundled replay data"):
        replay.ticker("DOGEUSDT")
    assert replay.symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert replay.instrument("ETHUSDT").qty_step == Decimal("0.01")


def test_the_bundled_file_is_loaded_once_per_process():
    path = str(bundled_files(settings.CANDLE_DATA_DIR)["BTCUSDT"])
    assert load_minutes(path) is load_minutes(path)
    assert len(load_minutes(path)) == 43_199
