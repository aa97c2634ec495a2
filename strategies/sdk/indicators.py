"""The indicator catalogue a strategy imports: plain functions over pandas Series (or anything array-like).

    from strategies.sdk.indicators import atr, bollinger, crossed_above, ema, rsi

Every function is causal (row ``t`` is computed from rows ``<= t`` only; a test computes each one on a truncated
frame and compares), returns a float Series (or a DataFrame of named columns, or a bool Series for the
``crossed_*`` tests) on the input's index, and is NaN while its window is still filling. Periods are in candles.
Each one-line docstring gives the formula or the source: TA-Lib (pinned in requirements.txt; its C code is fast and
is the reference most charting tools follow), the ``ta`` library's class, or the few lines of NumPy/pandas here.

Two classics are changed to stay causal: Ichimoku has no chikou span (it is today's close drawn 26 candles in the
past, i.e. it reads the future), and the Detrended Price Oscillator compares the close ``period // 2 + 1`` candles
ago with today's SMA instead of centring the SMA. ``donchian`` includes the current candle: a breakout compares the
close with the previous row's channel (``.shift(1)``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib
from ta.momentum import TSIIndicator
from ta.trend import MassIndex
from ta.volatility import UlcerIndex
from ta.volume import EaseOfMovementIndicator, ForceIndexIndicator

__all__ = [
    # moving averages
    "sma", "ema", "wma", "dema", "tema", "trima", "kama", "hull_ma", "vwma",
    # momentum and oscillators
    "rsi", "macd", "stochastic", "stoch_rsi", "williams_r", "roc", "momentum", "cci", "mfi", "trix",
    "ultimate_oscillator", "awesome_oscillator", "ppo", "tsi", "cmo", "dpo", "aroon",
    # trend
    "adx", "plus_di", "minus_di", "psar", "ichimoku", "vortex", "supertrend", "linreg_slope",
    # volatility and channels
    "true_range", "atr", "natr", "bollinger", "keltner", "donchian", "stddev", "ulcer_index", "mass_index",
    # volume
    "obv", "vwap", "chaikin_money_flow", "accumulation_distribution", "chaikin_oscillator", "force_index",
    "ease_of_movement", "relative_volume",
    # helpers
    "zscore", "highest", "lowest", "typical_price", "heikin_ashi", "crossed_above", "crossed_below",
]


# Plumbing --------------------------------------------------------------------------------------------------------

def _series(values) -> pd.Series:
    """``values`` as a float64 Series (a Series keeps its index; anything else gets 0..n-1)."""
    if isinstance(values, pd.Series):
        return values.astype("float64")
    return pd.Series(np.asarray(values, dtype="float64"))


def _talib(function, *inputs, **parameters) -> pd.Series:
    """A single-output TA-Lib ``function`` on ``inputs`` (Series), as a Series on the first input's index."""
    series = [_series(values) for values in inputs]
    result = function(*(s.to_numpy(dtype="float64") for s in series), **parameters)
    return pd.Series(result, index=series[0].index)


def _frame(index: pd.Index, **columns) -> pd.DataFrame:
    return pd.DataFrame({name: np.asarray(values, dtype="float64") for name, values in columns.items()}, index=index)


def _divide(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``numerator / denominator`` with NaN (not inf) where the denominator is 0: a flat window has no ratio."""
    return numerator / denominator.where(denominator != 0)


# Moving averages -------------------------------------------------------------------------------------------------

def sma(series, period: int = 20) -> pd.Series:
    """Simple moving average: the mean of the last ``period`` values (TA-Lib SMA)."""
    return _talib(talib.SMA, series, timeperiod=period)


def ema(series, period: int = 20) -> pd.Series:
    """Exponential moving average, alpha = 2/(period+1), seeded with the SMA of the first ``period`` (TA-Lib EMA)."""
    return _talib(talib.EMA, series, timeperiod=period)


def wma(series, period: int = 20) -> pd.Series:
    """Linearly weighted moving average, weights 1..period, the newest heaviest (TA-Lib WMA)."""
    return _talib(talib.WMA, series, timeperiod=period)


def dema(series, period: int = 20) -> pd.Series:
    """Double EMA: 2*EMA - EMA(EMA) (TA-Lib DEMA)."""
    return _talib(talib.DEMA, series, timeperiod=period)


def tema(series, period: int = 20) -> pd.Series:
    """Triple EMA: 3*EMA - 3*EMA(EMA) + EMA(EMA(EMA)) (TA-Lib TEMA)."""
    return _talib(talib.TEMA, series, timeperiod=period)


def trima(series, period: int = 20) -> pd.Series:
    """Triangular moving average: an SMA of an SMA, weights rising then falling (TA-Lib TRIMA)."""
    return _talib(talib.TRIMA, series, timeperiod=period)


def kama(series, period: int = 10) -> pd.Series:
    """Kaufman's adaptive MA: efficiency ratio over ``period`` scales alpha between 2/31 and 2/3 (TA-Lib KAMA)."""
    return _talib(talib.KAMA, series, timeperiod=period)


def hull_ma(series, period: int = 20) -> pd.Series:
    """Hull MA: WMA(2*WMA(period/2) - WMA(period), sqrt(period))."""
    raw = 2 * wma(series, max(1, period // 2)) - wma(series, period)
    return wma(raw, max(1, int(np.sqrt(period))))


def vwma(close, volume, period: int = 20) -> pd.Series:
    """Volume-weighted MA: sum(close*volume) / sum(volume) over ``period``."""
    close, volume = _series(close), _series(volume)
    return _divide((close * volume).rolling(period).sum(), volume.rolling(period).sum())


# Momentum and oscillators ----------------------------------------------------------------------------------------

def rsi(close, period: int = 14) -> pd.Series:
    """Wilder's RSI, 0-100: averages of gains and losses seeded with their simple mean, then alpha = 1/period
    (TA-Lib RSI)."""
    return _talib(talib.RSI, close, timeperiod=period)


def macd(close, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """Columns macd = EMA(fast) - EMA(slow), signal = EMA(signal) of it, hist = macd - signal (TA-Lib MACD)."""
    close = _series(close)
    line, signal_line, hist = talib.MACD(close.to_numpy(), fastperiod=fast, slowperiod=slow, signalperiod=signal)
    return _frame(close.index, macd=line, signal=signal_line, hist=hist)


def stochastic(high, low, close, k_period: int = 14, k_smooth: int = 3, d_period: int = 3) -> pd.DataFrame:
    """Slow stochastic, 0-100: k = SMA(k_smooth) of 100*(close - lowest low)/(highest high - lowest low) over
    ``k_period``, d = SMA(d_period) of k (TA-Lib STOCH)."""
    high, low, close = _series(high), _series(low), _series(close)
    k, d = talib.STOCH(high.to_numpy(), low.to_numpy(), close.to_numpy(), fastk_period=k_period,
                       slowk_period=k_smooth, slowk_matype=0, slowd_period=d_period, slowd_matype=0)
    return _frame(close.index, k=k, d=d)


def stoch_rsi(close, period: int = 14, stoch_period: int = 14, k_smooth: int = 3, d_smooth: int = 3) -> pd.DataFrame:
    """Stochastic RSI, 0-100: k = SMA(k_smooth) of 100*(RSI - min RSI)/(max RSI - min RSI) over ``stoch_period``,
    d = SMA(d_smooth) of k (NaN where the RSI was flat over the window)."""
    strength = rsi(close, period)
    lowest_rsi, highest_rsi = strength.rolling(stoch_period).min(), strength.rolling(stoch_period).max()
    k = (100 * _divide(strength - lowest_rsi, highest_rsi - lowest_rsi)).rolling(k_smooth).mean()
    return pd.DataFrame({"k": k, "d": k.rolling(d_smooth).mean()})


def williams_r(high, low, close, period: int = 14) -> pd.Series:
    """Williams %R, -100-0: -100*(highest high - close)/(highest high - lowest low) (TA-Lib WILLR)."""
    return _talib(talib.WILLR, high, low, close, timeperiod=period)


def roc(series, period: int = 10) -> pd.Series:
    """Rate of change in percent: 100*(x - x[period ago]) / x[period ago] (TA-Lib ROC)."""
    return _talib(talib.ROC, series, timeperiod=period)


def momentum(series, period: int = 10) -> pd.Series:
    """Momentum: x - x[period ago] (TA-Lib MOM)."""
    return _talib(talib.MOM, series, timeperiod=period)


def cci(high, low, close, period: int = 20) -> pd.Series:
    """Commodity Channel Index: (typical price - its SMA) / (0.015 * mean absolute deviation) (TA-Lib CCI)."""
    return _talib(talib.CCI, high, low, close, timeperiod=period)


def mfi(high, low, close, volume, period: int = 14) -> pd.Series:
    """Money Flow Index, 0-100: an RSI of typical price * volume (TA-Lib MFI)."""
    return _talib(talib.MFI, high, low, close, volume, timeperiod=period)


def trix(close, period: int = 15) -> pd.Series:
    """TRIX: the 1-candle rate of change, in percent, of a triple EMA (TA-Lib TRIX)."""
    return _talib(talib.TRIX, close, timeperiod=period)


def ultimate_oscillator(high, low, close, short: int = 7, medium: int = 14, long: int = 28) -> pd.Series:
    """Ultimate Oscillator, 0-100: buying pressure / true range averaged over three windows, weighted 4:2:1
    (TA-Lib ULTOSC)."""
    return _talib(talib.ULTOSC, high, low, close, timeperiod1=short, timeperiod2=medium, timeperiod3=long)


def awesome_oscillator(high, low, fast: int = 5, slow: int = 34) -> pd.Series:
    """Awesome Oscillator: SMA(fast) - SMA(slow) of the median price (high+low)/2."""
    median = (_series(high) + _series(low)) / 2
    return sma(median, fast) - sma(median, slow)


def ppo(close, fast: int = 12, slow: int = 26) -> pd.Series:
    """Percentage Price Oscillator: 100 * (EMA(fast) - EMA(slow)) / EMA(slow)."""
    slow_average = ema(close, slow)
    return 100 * _divide(ema(close, fast) - slow_average, slow_average)


def tsi(close, slow: int = 25, fast: int = 13) -> pd.Series:
    """True Strength Index: 100 * double-smoothed change / double-smoothed absolute change (``ta`` TSIIndicator)."""
    return TSIIndicator(_series(close), window_slow=slow, window_fast=fast).tsi()


def cmo(close, period: int = 14) -> pd.Series:
    """Chande Momentum Oscillator, -100-100: 100*(gains - losses)/(gains + losses), Wilder-smoothed (TA-Lib CMO)."""
    return _talib(talib.CMO, close, timeperiod=period)


def dpo(close, period: int = 20) -> pd.Series:
    """Detrended Price Oscillator, causal form: close[period//2 + 1 ago] - SMA(period)."""
    close = _series(close)
    return close.shift(period // 2 + 1) - sma(close, period)


def aroon(high, low, period: int = 25) -> pd.DataFrame:
    """Columns up/down = 100 * (period - candles since the highest high / lowest low) / period, oscillator = up -
    down (TA-Lib AROON)."""
    high, low = _series(high), _series(low)
    down, up = talib.AROON(high.to_numpy(), low.to_numpy(), timeperiod=period)
    return _frame(high.index, up=up, down=down, oscillator=up - down)


# Trend -----------------------------------------------------------------------------------------------------------

def adx(high, low, close, period: int = 14) -> pd.Series:
    """Average Directional Index, 0-100: Wilder's smoothing of |+DI - -DI| / (+DI + -DI) (TA-Lib ADX)."""
    return _talib(talib.ADX, high, low, close, timeperiod=period)


def plus_di(high, low, close, period: int = 14) -> pd.Series:
    """+DI: 100 * smoothed upward directional movement / ATR (TA-Lib PLUS_DI)."""
    return _talib(talib.PLUS_DI, high, low, close, timeperiod=period)


def minus_di(high, low, close, period: int = 14) -> pd.Series:
    """-DI: 100 * smoothed downward directional movement / ATR (TA-Lib MINUS_DI)."""
    return _talib(talib.MINUS_DI, high, low, close, timeperiod=period)


def psar(high, low, acceleration: float = 0.02, maximum: float = 0.2) -> pd.Series:
    """Parabolic SAR: a stop that accelerates towards the price by ``acceleration`` per new extreme, up to
    ``maximum`` (TA-Lib SAR)."""
    return _talib(talib.SAR, high, low, acceleration=acceleration, maximum=maximum)


def ichimoku(high, low, conversion: int = 9, base: int = 26, span_b: int = 52, displacement: int = 26) -> pd.DataFrame:
    """Columns tenkan/kijun = midpoint of the ``conversion``/``base`` high-low range, senkou_a = (tenkan+kijun)/2 and
    senkou_b = the ``span_b`` midpoint, both computed ``displacement`` candles earlier (the cloud drawn under this
    candle); no chikou span (it reads the future)."""
    high, low = _series(high), _series(low)

    def midpoint(period: int) -> pd.Series:
        return (high.rolling(period).max() + low.rolling(period).min()) / 2

    tenkan, kijun = midpoint(conversion), midpoint(base)
    return pd.DataFrame({"tenkan": tenkan, "kijun": kijun, "senkou_a": ((tenkan + kijun) / 2).shift(displacement),
                         "senkou_b": midpoint(span_b).shift(displacement)})


def vortex(high, low, close, period: int = 14) -> pd.DataFrame:
    """Columns plus = sum|high - previous low| / sum true range, minus = sum|low - previous high| / sum true range,
    over ``period``."""
    high, low = _series(high), _series(low)
    ranges = true_range(high, low, close).rolling(period).sum()
    return pd.DataFrame({"plus": _divide((high - low.shift(1)).abs().rolling(period).sum(), ranges),
                         "minus": _divide((low - high.shift(1)).abs().rolling(period).sum(), ranges)})


def supertrend(high, low, close, period: int = 10, multiplier: float = 3.0) -> pd.DataFrame:
    """Columns supertrend (the trailing band: (high+low)/2 -+ multiplier*ATR, ratcheting with the trend) and
    direction (+1 up, -1 down, NaN in the ATR warm-up)."""
    high, low, close = _series(high), _series(low), _series(close)
    middle, band = ((high + low) / 2).to_numpy(), multiplier * atr(high, low, close, period).to_numpy()
    line, direction = _supertrend_walk(middle + band, middle - band, close.to_numpy())
    return _frame(close.index, supertrend=line, direction=direction)


def _supertrend_walk(upper: np.ndarray, lower: np.ndarray, close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bands only tighten while the close stays inside them; the trend flips when the close crosses the
    band it is trailing. One pass, each row from the previous one."""
    line, direction = np.full(len(close), np.nan), np.full(len(close), np.nan)
    start = int(np.argmax(~np.isnan(upper))) if (~np.isnan(upper)).any() else len(close)
    final_upper, final_lower, trend = np.nan, np.nan, 1.0
    for row in range(start, len(close)):
        if row == start:
            final_upper, final_lower = upper[row], lower[row]
        else:
            previous_close = close[row - 1]
            if upper[row] < final_upper or previous_close > final_upper:
                final_upper = upper[row]
            if lower[row] > final_lower or previous_close < final_lower:
                final_lower = lower[row]
            if trend < 0 and close[row] > final_upper:
                trend = 1.0
            elif trend > 0 and close[row] < final_lower:
                trend = -1.0
        line[row], direction[row] = (final_lower if trend > 0 else final_upper), trend
    return line, direction


def linreg_slope(series, period: int = 14) -> pd.Series:
    """Slope per candle of the least-squares line through the last ``period`` values (TA-Lib LINEARREG_SLOPE)."""
    return _talib(talib.LINEARREG_SLOPE, series, timeperiod=period)


# Volatility and channels -----------------------------------------------------------------------------------------

def true_range(high, low, close) -> pd.Series:
    """True range: max(high, previous close) - min(low, previous close); NaN on the first row (TA-Lib TRANGE)."""
    return _talib(talib.TRANGE, high, low, close)


def atr(high, low, close, period: int = 14) -> pd.Series:
    """Wilder's Average True Range: seeded with the mean of the first ``period`` true ranges, then alpha =
    1/period (TA-Lib ATR)."""
    return _talib(talib.ATR, high, low, close, timeperiod=period)


def natr(high, low, close, period: int = 14) -> pd.Series:
    """Normalised ATR: 100 * ATR / close (TA-Lib NATR)."""
    return _talib(talib.NATR, high, low, close, timeperiod=period)


def bollinger(close, period: int = 20, std: float = 2.0) -> pd.DataFrame:
    """Columns middle = SMA(period), upper/lower = middle +- std population standard deviations, width =
    (upper - lower)/middle, percent_b = (close - lower)/(upper - lower) (TA-Lib BBANDS)."""
    close = _series(close)
    upper, middle, lower = talib.BBANDS(close.to_numpy(), timeperiod=period, nbdevup=std, nbdevdn=std, matype=0)
    bands = _frame(close.index, upper=upper, middle=middle, lower=lower)
    bands["width"] = _divide(bands["upper"] - bands["lower"], bands["middle"])
    bands["percent_b"] = _divide(close - bands["lower"], bands["upper"] - bands["lower"])
    return bands


def keltner(high, low, close, period: int = 20, atr_period: int = 10, multiplier: float = 2.0) -> pd.DataFrame:
    """Columns middle = EMA(close, period), upper/lower = middle +- multiplier * ATR(atr_period)."""
    middle = ema(close, period)
    width = multiplier * atr(high, low, close, atr_period)
    return pd.DataFrame({"upper": middle + width, "middle": middle, "lower": middle - width})


def donchian(high, low, period: int = 20) -> pd.DataFrame:
    """Columns upper = highest high, lower = lowest low over the last ``period`` candles (this one included),
    middle = their mean."""
    upper, lower = highest(high, period), lowest(low, period)
    return pd.DataFrame({"upper": upper, "middle": (upper + lower) / 2, "lower": lower})


def stddev(series, period: int = 20) -> pd.Series:
    """Population standard deviation over the last ``period`` values."""
    return _series(series).rolling(period).std(ddof=0)


def ulcer_index(close, period: int = 14) -> pd.Series:
    """Ulcer Index: root mean square of the percent drawdown from the ``period`` high (``ta`` UlcerIndex)."""
    return UlcerIndex(_series(close), window=period).ulcer_index()


def mass_index(high, low, fast: int = 9, slow: int = 25) -> pd.Series:
    """Mass Index: the ``slow``-candle sum of EMA(range, fast) / EMA(EMA(range, fast), fast) (``ta`` MassIndex)."""
    return MassIndex(_series(high), _series(low), window_fast=fast, window_slow=slow).mass_index()


# Volume ----------------------------------------------------------------------------------------------------------

def obv(close, volume) -> pd.Series:
    """On-Balance Volume: the running sum of +volume on an up close, -volume on a down close, 0 when unchanged,
    starting at the first volume (TA-Lib OBV)."""
    return _talib(talib.OBV, close, volume)


def vwap(high, low, close, volume, period: int | None = None) -> pd.Series:
    """VWAP of the typical price: from each UTC day's first candle (``period`` None; needs a DatetimeIndex) or
    over the last ``period`` candles."""
    price, volume = typical_price(high, low, close), _series(volume)
    if period is not None:
        return _divide((price * volume).rolling(period).sum(), volume.rolling(period).sum())
    if not isinstance(price.index, pd.DatetimeIndex):
        raise TypeError("vwap without a period resets each UTC day: it needs the candles' DatetimeIndex")
    day = price.index.tz_convert("UTC").floor("D") if price.index.tz else price.index.floor("D")
    return _divide((price * volume).groupby(day).cumsum(), volume.groupby(day).cumsum())


def chaikin_money_flow(high, low, close, volume, period: int = 20) -> pd.Series:
    """Chaikin Money Flow: sum(volume * ((close - low) - (high - close)) / (high - low)) / sum(volume) over
    ``period`` (a candle with no range counts 0)."""
    high, low, close, volume = _series(high), _series(low), _series(close), _series(volume)
    location = _divide((close - low) - (high - close), high - low).fillna(0)
    return _divide((location * volume).rolling(period).sum(), volume.rolling(period).sum())


def accumulation_distribution(high, low, close, volume) -> pd.Series:
    """Chaikin's Accumulation/Distribution line: the running sum of volume * ((close-low) - (high-close)) /
    (high-low) (TA-Lib AD)."""
    return _talib(talib.AD, high, low, close, volume)


def chaikin_oscillator(high, low, close, volume, fast: int = 3, slow: int = 10) -> pd.Series:
    """Chaikin Oscillator: EMA(fast) - EMA(slow) of the A/D line (TA-Lib ADOSC)."""
    return _talib(talib.ADOSC, high, low, close, volume, fastperiod=fast, slowperiod=slow)


def force_index(close, volume, period: int = 13) -> pd.Series:
    """Force Index: EMA(period) of (close - previous close) * volume (``ta`` ForceIndexIndicator)."""
    return ForceIndexIndicator(_series(close), _series(volume), window=period).force_index()


def ease_of_movement(high, low, volume, period: int = 14) -> pd.Series:
    """Ease of Movement: SMA(period) of (change of (high+low)/2) * (high - low) / volume * 1e8 (``ta``
    EaseOfMovementIndicator)."""
    return EaseOfMovementIndicator(_series(high), _series(low), _series(volume), window=period).sma_ease_of_movement()


def relative_volume(volume, period: int = 20) -> pd.Series:
    """This candle's volume / the SMA(period) of volume (1.0: an average candle)."""
    volume = _series(volume)
    return _divide(volume, sma(volume, period))


# Helpers ---------------------------------------------------------------------------------------------------------

def zscore(series, period: int = 20) -> pd.Series:
    """(x - SMA(period)) / population standard deviation over ``period``."""
    series = _series(series)
    return _divide(series - series.rolling(period).mean(), stddev(series, period))


def highest(series, period: int) -> pd.Series:
    """The maximum of the last ``period`` values, this one included."""
    return _series(series).rolling(period).max()


def lowest(series, period: int) -> pd.Series:
    """The minimum of the last ``period`` values, this one included."""
    return _series(series).rolling(period).min()


def typical_price(high, low, close) -> pd.Series:
    """(high + low + close) / 3."""
    return (_series(high) + _series(low) + _series(close)) / 3


def heikin_ashi(open_, high, low, close) -> pd.DataFrame:
    """Heikin-Ashi candles: close = (o+h+l+c)/4, open = mean of the previous HA open and close (the first: (o+c)/2),
    high/low = the extremes of high/low and the HA open and close."""
    open_, high, low, close = _series(open_), _series(high), _series(low), _series(close)
    ha_close = (open_ + high + low + close) / 4
    # open[t] = (open[t-1] + close[t-1]) / 2 is an exponential average with alpha 1/2 of the previous HA closes.
    seed = pd.concat([pd.Series([(open_.iat[0] + close.iat[0]) / 2]), pd.Series(ha_close.to_numpy()[:-1])])
    ha_open = pd.Series(seed.ewm(alpha=0.5, adjust=False).mean().to_numpy(), index=close.index)
    return pd.DataFrame({"open": ha_open, "high": np.maximum(high, np.maximum(ha_open, ha_close)),
                         "low": np.minimum(low, np.minimum(ha_open, ha_close)), "close": ha_close})


def crossed_above(series, other) -> pd.Series:
    """True on the rows where ``series`` closed above ``other`` (a Series or a number) after being at or below it
    on the row before."""
    series = _series(series)
    other = _series(other) if not np.isscalar(other) else pd.Series(float(other), index=series.index)
    return ((series > other) & (series.shift(1) <= other.shift(1))).astype(bool)


def crossed_below(series, other) -> pd.Series:
    """True on the rows where ``series`` closed below ``other`` after being at or above it on the row before."""
    series = _series(series)
    other = _series(other) if not np.isscalar(other) else pd.Series(float(other), index=series.index)
    return ((series < other) & (series.shift(1) >= other.shift(1))).astype(bool)
