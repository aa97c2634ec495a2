"""The SDK's indicator catalogue (strategies/sdk/indicators.py): values against ``ta``'s classes, pandas and sums
done by hand on tiny series; and every one of them causal and aligned with its input, in one parametrised test."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ta

from exchange.replay import load_minutes
from market.candles import resample
from strategies import indicators as kernel_indicators
from strategies.sdk import indicators as ind

DATA = Path(__file__).resolve().parents[2] / "exchange" / "data"


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    """A month of real 15-minute BTCUSDT candles."""
    return resample(load_minutes(str(DATA / "BTCUSDT_1m.csv.gz")), "15")


def ohlcv(frame):
    return frame["open"], frame["high"], frame["low"], frame["close"], frame["volume"]


# Every function of the catalogue, called on a candle frame with its defaults (and a few non-default periods).
CALLS = {
    "sma": lambda f: ind.sma(f["close"], 20),
    "ema": lambda f: ind.ema(f["close"], 20),
    "wma": lambda f: ind.wma(f["close"], 20),
    "dema": lambda f: ind.dema(f["close"], 20),
    "tema": lambda f: ind.tema(f["close"], 20),
    "trima": lambda f: ind.trima(f["close"], 20),
    "kama": lambda f: ind.kama(f["close"], 10),
    "hull_ma": lambda f: ind.hull_ma(f["close"], 16),
    "vwma": lambda f: ind.vwma(f["close"], f["volume"], 20),
    "rsi": lambda f: ind.rsi(f["close"]),
    "macd": lambda f: ind.macd(f["close"]),
    "stochastic": lambda f: ind.stochastic(f["high"], f["low"], f["close"]),
    "stoch_rsi": lambda f: ind.stoch_rsi(f["close"]),
    "williams_r": lambda f: ind.williams_r(f["high"], f["low"], f["close"]),
    "roc": lambda f: ind.roc(f["close"]),
    "momentum": lambda f: ind.momentum(f["close"]),
    "cci": lambda f: ind.cci(f["high"], f["low"], f["close"]),
    "mfi": lambda f: ind.mfi(f["high"], f["low"], f["close"], f["volume"]),
    "trix": lambda f: ind.trix(f["close"]),
    "ultimate_oscillator": lambda f: ind.ultimate_oscillator(f["high"], f["low"], f["close"]),
    "awesome_oscillator": lambda f: ind.awesome_oscillator(f["high"], f["low"]),
    "ppo": lambda f: ind.ppo(f["close"]),
    "tsi": lambda f: ind.tsi(f["close"]),
    "cmo": lambda f: ind.cmo(f["close"]),
    "dpo": lambda f: ind.dpo(f["close"]),
    "aroon": lambda f: ind.aroon(f["high"], f["low"]),
    "adx": lambda f: ind.adx(f["high"], f["low"], f["close"]),
    "plus_di": lambda f: ind.plus_di(f["high"], f["low"], f["close"]),
    "minus_di": lambda f: ind.minus_di(f["high"], f["low"], f["close"]),
    "psar": lambda f: ind.psar(f["high"], f["low"]),
    "ichimoku": lambda f: ind.ichimoku(f["high"], f["low"]),
    "vortex": lambda f: ind.vortex(f["high"], f["low"], f["close"]),
    "supertrend": lambda f: ind.supertrend(f["high"], f["low"], f["close"]),
    "linreg_slope": lambda f: ind.linreg_slope(f["close"]),
    "true_range": lambda f: ind.true_range(f["high"], f["low"], f["close"]),
    "atr": lambda f: ind.atr(f["high"], f["low"], f["close"]),
    "natr": lambda f: ind.natr(f["high"], f["low"], f["close"]),
    "bollinger": lambda f: ind.bollinger(f["close"]),
    "keltner": lambda f: ind.keltner(f["high"], f["low"], f["close"]),
    "donchian": lambda f: ind.donchian(f["high"], f["low"]),
    "stddev": lambda f: ind.stddev(f["close"]),
    "ulcer_index": lambda f: ind.ulcer_index(f["close"]),
    "mass_index": lambda f: ind.mass_index(f["high"], f["low"]),
    "obv": lambda f: ind.obv(f["close"], f["volume"]),
    "vwap": lambda f: ind.vwap(f["high"], f["low"], f["close"], f["volume"]),
    "chaikin_money_flow": lambda f: ind.chaikin_money_flow(f["high"], f["low"], f["close"], f["volume"]),
    "accumulation_distribution": lambda f: ind.accumulation_distribution(f["high"], f["low"], f["close"],
                                                                         f["volume"]),
    "chaikin_oscillator": lambda f: ind.chaikin_oscillator(f["high"], f["low"], f["close"], f["volume"]),
    "force_index": lambda f: ind.force_index(f["close"], f["volume"]),
    "ease_of_movement": lambda f: ind.ease_of_movement(f["high"], f["low"], f["volume"]),
    "relative_volume": lambda f: ind.relative_volume(f["volume"]),
    "zscore": lambda f: ind.zscore(f["close"]),
    "highest": lambda f: ind.highest(f["high"], 20),
    "lowest": lambda f: ind.lowest(f["low"], 20),
    "typical_price": lambda f: ind.typical_price(f["high"], f["low"], f["close"]),
    "heikin_ashi": lambda f: ind.heikin_ashi(f["open"], f["high"], f["low"], f["close"]),
    "crossed_above": lambda f: ind.crossed_above(ind.ema(f["close"], 9), ind.ema(f["close"], 21)),
    "crossed_below": lambda f: ind.crossed_below(ind.ema(f["close"], 9), ind.ema(f["close"], 21)),
}


def test_the_catalogue_has_at_least_40_indicators_and_every_one_is_checked_for_causality():
    assert len(ind.__all__) >= 40
    assert set(CALLS) == set(ind.__all__)
    for name in ind.__all__:
        assert getattr(ind, name).__doc__.strip(), f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_indicator_is_causal_and_aligned_with_its_input(candles, name):
    """Computed on the first rows only, every indicator gives the same values on those rows as on the whole month:
    no row reads a later one. Two cuts: one inside the warm-ups, one deep in the month."""
    full = CALLS[name](candles)
    assert full.index.equals(candles.index)
    assert full.notna().to_numpy().any(), f"{name} is NaN everywhere"
    for cut in (45, 2000):
        head = CALLS[name](candles.iloc[:cut])
        assert head.index.equals(candles.index[:cut])
        if isinstance(full, pd.DataFrame):
            pd.testing.assert_frame_equal(head, full.iloc[:cut], rtol=1e-9, check_freq=False)
        else:
            pd.testing.assert_series_equal(head, full.iloc[:cut], rtol=1e-9, check_freq=False, check_names=False)


def assert_tail_close(ours, reference, rows=400, rtol=1e-7, atol=0.0):
    """Equal on the last ``rows`` rows: references seeded differently (first value vs first-period mean) agree
    once the seed has decayed, and the month is long enough for that."""
    np.testing.assert_allclose(np.asarray(ours, dtype=float)[-rows:], np.asarray(reference, dtype=float)[-rows:],
                               rtol=rtol, atol=atol)


# Values on tiny series, by hand -------------------------------------------------------------------------------------

def test_sma_ema_wma_by_hand():
    x = pd.Series([1.0, 2, 3, 4, 5, 6])
    assert ind.sma(x, 3).tolist()[2:] == [2, 3, 4, 5]
    # EMA(3): alpha 1/2, seeded with the SMA of the first three (2), then 2 + (4-2)/2 = 3, ...
    assert ind.ema(x, 3).tolist()[2:] == [2, 3, 4, 5]
    assert ind.ema(pd.Series([2.0, 4, 6, 10, 4]), 3).tolist()[2:] == [4, 7, 5.5]
    # WMA(3) of 1,2,3: (1*1 + 2*2 + 3*3) / 6
    assert ind.wma(x, 3).iat[2] == pytest.approx(14 / 6)
    assert math.isnan(ind.sma(x, 3).iat[1])


def test_rsi_matches_the_kernels_wilder_rsi(candles):
    close = candles["close"]
    np.testing.assert_allclose(ind.rsi(close, 14).to_numpy()[14:],
                               kernel_indicators.wilder_rsi(close.to_numpy(), 14)[14:], rtol=1e-9)


def test_roc_momentum_true_range_obv_by_hand():
    close = pd.Series([10.0, 11, 11, 9, 12])
    volume = pd.Series([5.0, 3, 4, 2, 6])
    assert ind.momentum(close, 2).tolist()[2:] == [1, -2, 1]
    assert ind.roc(close, 2).tolist()[2:] == pytest.approx([10, -100 * 2 / 11, 100 / 11])
    # OBV starts at the first volume (5), then up +3, unchanged 0, down -2, up +6.
    assert ind.obv(close, volume).tolist() == [5, 8, 8, 6, 12]
    high, low = pd.Series([11.0, 12, 12, 10, 13]), pd.Series([9.0, 10, 10, 8, 9])
    tr = ind.true_range(high, low, close)
    assert math.isnan(tr.iat[0])
    assert tr.tolist()[1:] == [2, 2, 3, 4]  # row 3: prev close 11 - low 8; row 4: high 13 - low 9


def test_crossings_by_hand():
    a = pd.Series([1.0, 2, 3, 2, 1, 2])
    b = pd.Series([2.0, 2, 2, 2, 2, 2])
    assert ind.crossed_above(a, b).tolist() == [False, False, True, False, False, False]
    assert ind.crossed_below(a, b).tolist() == [False, False, False, False, True, False]
    assert ind.crossed_above(a, 1.5).tolist() == [False, True, False, False, False, True]


def test_mfi_by_hand_with_a_tie():
    high, low = pd.Series([11.0, 12, 13, 13, 12]), pd.Series([9.0, 10, 11, 11, 10])
    close, volume = pd.Series([10.0, 11, 12, 12, 11]), pd.Series([1.0, 2, 3, 4, 5])
    # typical prices 10, 11, 12, 12 (a tie: neither flow), 11 (down); flows over the last 4 candles at row 4:
    # up 11*2 + 12*3, down 11*5
    assert ind.mfi(high, low, close, volume, 4).iat[4] == pytest.approx(100 * 58 / (58 + 55))


def test_zscore_and_vwap_by_hand():
    x = pd.Series([1.0, 2, 3, 4])
    assert ind.zscore(x, 3).tolist()[2:] == pytest.approx([1 / np.std([1, 2, 3])] * 2)
    index = pd.DatetimeIndex(["2026-01-01 23:00", "2026-01-01 23:30", "2026-01-02 00:00"], tz="UTC")
    high, low, close = (pd.Series(v, index=index) for v in ([3.0, 6, 9], [1.0, 4, 7], [2.0, 5, 8]))
    volume = pd.Series([1.0, 3, 2], index=index)
    # typical prices 2, 5, 8; the third candle opens a new UTC day.
    assert ind.vwap(high, low, close, volume).tolist() == pytest.approx([2, (2 + 15) / 4, 8])
    assert ind.vwap(high, low, close, volume, period=2).tolist()[1:] == pytest.approx([17 / 4, (15 + 16) / 5])


def test_heikin_ashi_by_hand():
    o, h, l, c = (pd.Series(v) for v in ([10.0, 12], [14.0, 15], [8.0, 11], [12.0, 13]))  # noqa: E741
    ha = ind.heikin_ashi(o, h, l, c)
    assert ha["close"].tolist() == [11, 12.75]
    assert ha["open"].tolist() == [11, 11]  # (10+12)/2, then (11+11)/2
    assert ha["high"].tolist() == [14, 15] and ha["low"].tolist() == [8, 11]


# Against ``ta``'s classes on the real month --------------------------------------------------------------------------

def test_bollinger_matches_ta(candles):
    bands, reference = ind.bollinger(candles["close"], 20, 2), ta.volatility.BollingerBands(candles["close"], 20, 2)
    for ours, theirs in (("upper", reference.bollinger_hband()), ("middle", reference.bollinger_mavg()),
                         ("lower", reference.bollinger_lband())):
        assert_tail_close(bands[ours], theirs, rows=len(candles) - 19, rtol=1e-9)
    assert_tail_close(bands["percent_b"], reference.bollinger_pband(), rows=len(candles) - 19, rtol=1e-6)


def test_macd_matches_ta(candles):
    ours, reference = ind.macd(candles["close"]), ta.trend.MACD(candles["close"])
    assert_tail_close(ours["macd"], reference.macd())
    assert_tail_close(ours["signal"], reference.macd_signal())
    assert_tail_close(ours["hist"], reference.macd_diff(), rtol=1e-5)


def test_atr_and_stochastic_match_ta(candles):
    _, high, low, close, _ = ohlcv(candles)
    assert_tail_close(ind.atr(high, low, close, 14), ta.volatility.AverageTrueRange(high, low, close, 14)
                      .average_true_range())
    stochastic = ind.stochastic(high, low, close, 14, 3, 3)
    slow_k = ta.momentum.StochasticOscillator(high, low, close, 14, 3).stoch_signal()  # SMA(3) of fast %K
    assert_tail_close(stochastic["k"], slow_k, rows=len(candles) - 20, rtol=1e-9)
    assert_tail_close(stochastic["d"], slow_k.rolling(3).mean(), rows=len(candles) - 20, rtol=1e-9)


def test_oscillators_match_ta(candles):
    _, high, low, close, volume = ohlcv(candles)
    rows = len(candles) - 40
    assert_tail_close(ind.williams_r(high, low, close), ta.momentum.WilliamsRIndicator(high, low, close)
                      .williams_r(), rows=rows, rtol=1e-9)
    assert_tail_close(ind.cci(high, low, close), ta.trend.CCIIndicator(high, low, close).cci(), rows=rows, rtol=1e-6)
    # A typical price equal to the one before counts neither up nor down; rounding makes a few such ties 1e-11
    # apart, counted one way by TA-Lib and the other by ``ta``: windows holding a tie are compared by hand below.
    typical = ind.typical_price(high, low, close)
    tie_in_window = (typical.diff().abs() < 1e-6).rolling(14, min_periods=1).max().astype(bool).to_numpy()
    ours, theirs = ind.mfi(high, low, close, volume), ta.volume.MFIIndicator(high, low, close, volume)
    assert_tail_close(ours[~tie_in_window], theirs.money_flow_index()[~tie_in_window], rows=rows - 100, rtol=1e-6)
    assert_tail_close(ind.ultimate_oscillator(high, low, close), ta.momentum.UltimateOscillator(high, low, close)
                      .ultimate_oscillator(), rows=rows, rtol=1e-6)
    assert_tail_close(ind.trix(close), ta.trend.TRIXIndicator(close).trix(), rtol=1e-5)
    assert_tail_close(ind.awesome_oscillator(high, low), ta.momentum.AwesomeOscillatorIndicator(high, low)
                      .awesome_oscillator(), rows=rows, rtol=1e-9, atol=1e-6)  # summed in another order


def test_channels_and_volume_match_ta(candles):
    _, high, low, close, volume = ohlcv(candles)
    rows = len(candles) - 60
    channel = ind.donchian(high, low, 20)
    reference = ta.volatility.DonchianChannel(high, low, close, 20)
    assert_tail_close(channel["upper"], reference.donchian_channel_hband(), rows=rows, rtol=1e-12)
    assert_tail_close(channel["lower"], reference.donchian_channel_lband(), rows=rows, rtol=1e-12)
    vortex, their_vortex = ind.vortex(high, low, close), ta.trend.VortexIndicator(high, low, close)
    assert_tail_close(vortex["plus"], their_vortex.vortex_indicator_pos(), rows=rows, rtol=1e-9)
    assert_tail_close(vortex["minus"], their_vortex.vortex_indicator_neg(), rows=rows, rtol=1e-9)
    assert_tail_close(ind.chaikin_money_flow(high, low, close, volume),
                      ta.volume.ChaikinMoneyFlowIndicator(high, low, close, volume).chaikin_money_flow(),
                      rows=rows, rtol=1e-6)
    assert_tail_close(ind.accumulation_distribution(high, low, close, volume),
                      ta.volume.AccDistIndexIndicator(high, low, close, volume).acc_dist_index(), rows=rows, rtol=1e-6)
    ichimoku, their_ichimoku = ind.ichimoku(high, low), ta.trend.IchimokuIndicator(high, low, visual=False)
    assert_tail_close(ichimoku["tenkan"], their_ichimoku.ichimoku_conversion_line(), rows=rows, rtol=1e-12)
    # ``ta`` draws the spans on the candle they were computed on; ours sit 26 candles later (the cloud's place).
    assert_tail_close(ichimoku["senkou_a"].shift(-26).iloc[:-26], their_ichimoku.ichimoku_a().iloc[:-26],
                      rows=rows, rtol=1e-12)


def test_keltner_is_ema_plus_minus_atrs(candles):
    _, high, low, close, _ = ohlcv(candles)
    channel = ind.keltner(high, low, close, 20, 10, 2)
    pd.testing.assert_series_equal(channel["upper"], ind.ema(close, 20) + 2 * ind.atr(high, low, close, 10),
                                   check_names=False)


def test_supertrend_trails_the_price_on_the_side_of_its_direction(candles):
    _, high, low, close, _ = ohlcv(candles)
    trend = ind.supertrend(high, low, close, 10, 3).dropna()
    up, down = trend["direction"] == 1, trend["direction"] == -1
    assert up.sum() > 100 and down.sum() > 100
    assert (close[up.index[up]] >= trend["supertrend"][up]).all()
    assert (close[down.index[down]] <= trend["supertrend"][down]).all()
    # While a trend lasts its line only ratchets in the trend's direction.
    same = trend["direction"] == trend["direction"].shift(1)
    step = trend["supertrend"].diff()
    assert (step[same & up] >= 0).all() and (step[same & down] <= 0).all()


def test_plain_lists_and_arrays_are_accepted():
    assert ind.sma([1, 2, 3], 2).tolist()[1:] == [1.5, 2.5]
    assert ind.rsi(np.arange(1.0, 30)).iat[-1] == 100  # no losses at all
