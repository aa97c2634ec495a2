"""The strategy base class: what a trader subclasses, in the vocabulary freqtrade users already know.

A strategy is a Python class in a file of the strategies folder (``STRATEGY_DIRS``)::

    class EmaCross(IStrategy):
        \"\"\"Long when the fast EMA crosses above the slow one.\"\"\"

        timeframe = "15"
        startup_candle_count = 60
        fast = IntParameter(5, 50, default=9)
        slow = IntParameter(10, 200, default=21)

        def populate_indicators(self, frame, metadata):
            frame["fast"] = ema(frame["close"], self.fast.value)
            frame["slow"] = ema(frame["close"], self.slow.value)
            return frame

        def populate_entry_trend(self, frame, metadata):
            frame.loc[crossed_above(frame["fast"], frame["slow"]), ["enter_long", "enter_tag"]] = (True, "EMA cross")
            return frame

The frame holds closed candles only (open, high, low, close, volume; a UTC ``DatetimeIndex`` of open times, oldest
first). Entry hooks set the boolean columns ``enter_long`` / ``enter_short`` and optionally ``enter_tag`` (the
reason shown in the decision log); exit hooks set ``exit_long`` / ``exit_short`` and ``exit_tag``. The same class
runs, unchanged, in the live cycle, the paper exchange, backtests and the optimiser (``strategies.sdk.kernel``).

A strategy never does I/O: no network, no database, no files. It sees only the frames it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from market.intervals import INTERVAL_MINUTES
from strategies.sdk.parameters import Parameter, ParameterError, clean_values, declared

# freqtrade spells timeframes "5m", "1h", "1d"; Bybit (and this bot) "5", "60", "D". Both are accepted.
FREQTRADE_TIMEFRAMES = {"1m": "1", "3m": "3", "5m": "5", "15m": "15", "30m": "30", "1h": "60", "2h": "120",
                        "4h": "240", "6h": "360", "12h": "720", "1d": "D", "1w": "W"}


def bybit_interval(timeframe: str) -> str:
    """``timeframe`` as a Bybit kline interval ("5m" -> "5"); raises ValueError for anything else."""
    interval = FREQTRADE_TIMEFRAMES.get(str(timeframe), str(timeframe))
    if interval not in INTERVAL_MINUTES:
        raise ValueError(f"timeframe {timeframe!r} is not a candle interval; use one of "
                         f"{', '.join(FREQTRADE_TIMEFRAMES)} or Bybit's {', '.join(INTERVAL_MINUTES)}")
    return interval


@dataclass(frozen=True)
class LastRow:
    """What the population hooks would give for the last row of a frame (``IStrategy.last_row``)."""

    enter_long: bool
    enter_short: bool
    explain: Callable[[str], list[str]]  # explain_entry on that row for a side (LONG, SHORT or HOLD)
    indicators: dict[str, float | None]  # the row's indicator snapshot (strategies.signals.indicator_snapshot)
    exit_long: bool = False
    exit_short: bool = False
    enter_tag: str = ""
    exit_tag: str = ""


class IStrategy:
    """Subclass it; override ``populate_indicators`` and ``populate_entry_trend`` (and optionally the rest)."""

    # Shown in the strategy list and the admin; the class's docstring when empty.
    description: ClassVar[str] = ""
    # The candles the hooks see. Bybit's "5" or freqtrade's "5m".
    timeframe: ClassVar[str] = "5"
    # Closed candles needed before the first signal may be trusted (indicator warm-up). Fewer: HOLD.
    startup_candle_count: ClassVar[int] = 200
    # Higher timeframes the strategy reads through ``metadata["informative"][tf]`` (closed candles only).
    informative_timeframes: ClassVar[tuple[str, ...]] = ()
    can_short: ClassVar[bool] = True

    # Exit defaults for a new Strategy row of this class (the row's own settings win): freqtrade's spelling.
    stoploss: ClassVar[float] = -0.01  # a ratio below entry: -0.01 is 1 %
    take_profit: ClassVar[float | None] = 0.02  # a ratio above entry, or None for no fixed target
    trailing_stop: ClassVar[bool] = False
    trailing_stop_positive: ClassVar[float | None] = None  # trail this far behind the best price once ...
    trailing_stop_positive_offset: ClassVar[float] = 0.0  # ... the profit has reached this (0: at once)
    exit_after_candles: ClassVar[int | None] = None  # time exit
    partial_take_profits: ClassVar[tuple[tuple[float, float], ...]] = ()  # (profit ratio, share of the position)

    def __init__(self, parameters: dict | None = None):
        """An instance with its parameter values (checked; defaults filled in) bound as ``self.<name>.value``."""
        self.parameters = type(self).clean_parameters(parameters)
        for name, parameter in declared(type(self)).items():
            setattr(self, name, parameter.bound(self.parameters[name]))

    # Hooks ---------------------------------------------------------------------------------------------------

    def populate_indicators(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        """Add the indicator columns the signals read. Vectorised over the whole frame; never look ahead."""
        return frame

    def populate_entry_trend(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        """Set ``enter_long`` / ``enter_short`` (bool) and optionally ``enter_tag`` (str) on the rows to enter."""
        return frame

    def populate_exit_trend(self, frame: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        """Set ``exit_long`` / ``exit_short`` (bool) and optionally ``exit_tag`` on the rows to leave a position."""
        return frame

    def custom_stoploss(self, trade: dict, current_time, current_rate: float, current_profit: float,
                        **kwargs: Any) -> float | None:
        """A new stop as a ratio below the current rate (e.g. -0.02), or None to keep the current stop. Called once
        per closed candle while a trade is open; a stop only ever moves in the trade's favour."""
        return None

    def custom_exit(self, trade: dict, current_time, current_rate: float, current_profit: float,
                    **kwargs: Any) -> str | None:
        """A reason to close the trade now (shown as its exit reason), or None to keep it."""
        return None

    def explain_entry(self, frame: pd.DataFrame, row: int, side: str) -> list[str]:
        """Reasons for the decision log on ``row`` (``side`` LONG, SHORT or HOLD). By default the row's tags."""
        return []

    def last_row(self, frame: pd.DataFrame, metadata: dict, shared: dict) -> LastRow | None:
        """Optional, for speed: the last row's signals, reasons and indicator values exactly as the three population
        hooks and ``explain_entry`` give them, computed for that row alone (the live cycle asks only the newest
        candle). ``shared`` lives as long as these candles: what one strategy computed on them another may reuse.
        None (the default) runs the hooks over every row; a backtest always does."""
        return None

    # What the rest of the bot reads ----------------------------------------------------------------------------

    @classmethod
    def key(cls) -> str:
        """The name a Strategy row stores in ``type``: the class's name, or ``strategy_key`` when it sets one."""
        return getattr(cls, "strategy_key", cls.__name__)

    @classmethod
    def summary(cls) -> str:
        return cls.description or (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")

    @classmethod
    def interval(cls) -> str:
        return bybit_interval(cls.timeframe)

    @classmethod
    def declared_parameters(cls) -> dict[str, Parameter]:
        return declared(cls)

    @classmethod
    def clean_parameters(cls, values: dict | None) -> dict:
        """Every declared parameter's value, checked, defaults filled in (raises ParameterError listing every
        problem). Override to add rules that span parameters (call super first)."""
        return clean_values(cls, values)

    @classmethod
    def check_class(cls) -> list[str]:
        """What is wrong with the class as declared (empty: nothing): read at load time, so a broken file is
        reported on the page and at start-up rather than when it first trades."""
        problems = []
        try:
            cls.interval()
        except ValueError as error:
            problems.append(str(error))
        for timeframe in cls.informative_timeframes:
            try:
                bybit_interval(timeframe)
            except ValueError as error:
                problems.append(f"informative_timeframes: {error}")
        if not isinstance(cls.startup_candle_count, int) or not 1 <= cls.startup_candle_count <= 5000:
            problems.append(f"startup_candle_count must be a whole number from 1 to 5000, got "
                            f"{cls.startup_candle_count!r}")
        if cls.populate_entry_trend is IStrategy.populate_entry_trend:
            problems.append("populate_entry_trend is missing: without it the strategy never enters")
        for parameter in declared(cls).values():
            try:
                parameter.check_declaration()
            except ParameterError as error:
                problems.append(str(error))
        if not -1 < cls.stoploss < 0:
            problems.append(f"stoploss is a ratio below the entry, between -1 and 0 (e.g. -0.02), got {cls.stoploss}")
        shares = sum(share for _, share in cls.partial_take_profits)
        if len(cls.partial_take_profits) > 3 or shares > 1:
            problems.append("partial_take_profits: at most three (profit ratio, share) targets whose shares add up "
                            "to at most 1")
        return problems
