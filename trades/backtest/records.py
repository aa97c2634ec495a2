"""What the backtest engine reads and returns: candles as arrays, its settings, its trades and its result.

Kept apart from ``engine`` (the loop) so that ``fast_path`` (the vectorized resolution of runs that need no
per-trade decision) builds the very same records without importing the loop. ``engine`` re-exports every name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from market import exits, fills
from market.types import InstrumentRules
from trades.backtest import costs
from trades.backtest.perpetual import FundingSchedule
from trades.risk import RiskParams

ZERO = Decimal("0")
ENTERED, HELD, RISK, PAUSED, AI_SKIPPED, MARGIN = "entered", "held", "risk", "paused", "ai", "margin"
OUTCOMES = (ENTERED, HELD, RISK, PAUSED, AI_SKIPPED, MARGIN)
TICK_EPSILON = 1e-6  # in ticks: float noise in price / tick, far below any real distance to a tick
MINUTE_NS = 60_000_000_000


def liquidation_reach(leverage: float) -> float:
    """How far (a fraction of the entry price) the market must move against a position for isolated margin to
    liquidate it at ``leverage``, before the tick and the safety margin ``may_liquidate`` adds."""
    return 1 / leverage - float(fills.DEFAULT_MAINTENANCE_MARGIN_RATE)


def dec(value: float) -> Decimal:
    """A float price as the Decimal it was written as (its shortest repr), like ``market.candles``."""
    return Decimal(repr(float(value)))


@dataclass(frozen=True)
class Minutes:
    """1-minute candles as plain arrays (what the per-candle work runs on)."""

    start: np.ndarray  # int64 ns, open time
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    day: np.ndarray  # int64: calendar day number in the bot's time zone (for the daily-loss limit)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, timezone: str = "UTC") -> Minutes:
        index = frame.index if frame.index.tz is not None else frame.index.tz_localize("UTC")
        index = index.as_unit("ns")  # pandas keeps a file's resolution (often ms); the engine counts in ns
        day = index.tz_convert(timezone).tz_localize(None).asi8 // 86_400_000_000_000
        return cls(start=index.asi8, open=frame["open"].to_numpy(dtype="float64"),
                   high=frame["high"].to_numpy(dtype="float64"), low=frame["low"].to_numpy(dtype="float64"),
                   close=frame["close"].to_numpy(dtype="float64"), day=np.asarray(day, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.start)


@dataclass(frozen=True)
class EngineConfig:
    rules: InstrumentRules
    risk: RiskParams
    initial_balance: Decimal = costs.INITIAL_BALANCE
    fee_rate: Decimal = costs.FEE_RATE
    slippage_bps: Decimal = costs.SLIPPAGE_BPS
    max_notional: Decimal = Decimal("100000")
    fixed_qty: Decimal | None = None  # None: sized by trades.risk.plan_entry, as live
    protective_stops: bool = True  # stop-loss and take-profit from trades.risk.protective_prices, as live
    reverse: bool = False  # an opposite signal closes and reverses the position (not a live rule)
    daily_loss_limit: Decimal | None = None  # the strategy's max_daily_loss_percentage
    funding: FundingSchedule | None = None  # None: no funding (the fast path does no funding work at all)
    liquidation: bool = True  # isolated-margin liquidation (market.liquidation) before a further stop


@dataclass(slots=True)
class PartialExit:
    """A part of a position closed before the rest (a partial take-profit)."""

    bar: int
    qty: Decimal
    base: Decimal  # where the closing market order started, before slippage
    reason: str
    price: float = 0.0  # the fill, slipped
    fee: float = 0.0
    gross: float = 0.0
    at_open: bool = False  # reached by the minute's open (settled before the cycle decides at that minute)


@dataclass(slots=True)
class SimTrade:
    side: str  # Buy (long) or Sell (short)
    direction: int  # +1 long, -1 short
    qty: Decimal
    size: float  # qty as a float, for the arithmetic
    signal_time: int  # ns, open time of the signal candle
    entry_bar: int
    entry_price: float
    entry_fee: float
    stop_loss: Decimal | None
    take_profit: Decimal | None
    exit_bar: int = -1  # -1 while open
    exit_price: float = 0.0
    exit_fee: float = 0.0
    exit_reason: str = ""  # stop_loss, take_profit, reverse, or one of market.exits' kinds
    gross: float = 0.0  # price PnL before fees (of every part closed)
    pnl: float = 0.0  # net of both fees (Bybit's closed PnL)
    plan: exits.ExitPlan | None = None  # the extra exits (market.exits), when the strategy has any
    partials: list[PartialExit] = field(default_factory=list)
    exit_base: Decimal | None = None  # the last close's price before slippage, when market.exits decided it
    exit_tag: str = ""  # an exit signal's tag or custom_exit's reason
    liq_price: Decimal | None = None  # where isolated margin liquidates it (None: not simulated)
    liq_scanned: int = 0  # candles before this one are known not to reach liq_price (the lazy watch)
    funding: float = 0.0  # funding received (negative: paid) while held; in cash at the close

    @property
    def remaining_size(self) -> float:
        # Without parts, what subtracting an empty sum gives (x - 0 is x), without the generator's cost.
        return self.size - sum(float(part.qty) for part in self.partials) if self.partials else self.size

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - sum((part.qty for part in self.partials), ZERO)


@dataclass
class EngineResult:
    trades: list[SimTrade] | LazyTrades  # closed, in order (LazyTrades: built when first read)
    open_trade: SimTrade | None  # still open after the last candle (marked to market, no exit fee)
    equity: np.ndarray  # float per 1-minute candle from trade_from: cash + unrealized PnL at its close
    exposure: np.ndarray  # bool per candle from trade_from: a position was held at its close
    outcomes: list[str]  # per signal event: one of OUTCOMES
    details: list[str]  # per signal event: why it was skipped ("" when entered)
    final_equity: float
    fees_paid: float
    trade_from: int


class Prices:
    """``market.fills.slipped_price`` in floats (the fee is qty x price x rate), for deciding inside the loop.

    The stored figures do not come from here: ``trades.backtest.ledger`` recomputes every fill with the
    Decimal originals, and the tests hold the two together.
    """

    def __init__(self, config: EngineConfig):
        self.slippage = float(config.slippage_bps) / 10_000
        self.rate = float(config.fee_rate)
        tick = config.rules.tick_size
        self.tick = float(tick) if tick else 0.0
        self.places = max(0, -tick.normalize().as_tuple().exponent) if tick else 0

    def slipped(self, direction: int, price: float) -> float:
        buy = direction > 0
        moved = price * (1 + self.slippage if buy else 1 - self.slippage)
        if not self.tick:
            return moved
        steps = moved / self.tick
        steps = math.ceil(steps - TICK_EPSILON) if buy else math.floor(steps + TICK_EPSILON)
        return round(steps * self.tick, self.places)


class LazyTrades(Sequence):
    """A run's closed trades, built as ``SimTrade`` objects the first time one is read (``build``).

    The vectorized resolution (``fast_path``) knows every trade as columns of numbers; tens of thousands of Python
    objects cost more than the whole resolution, and a run that only counts its trades or reads its equity (a sweep
    cell) never needs them. Reading one (the Decimal ledger does) builds them all, once; they are then the same
    objects on every read, as a list would give them.
    """

    __slots__ = ("_build", "_count", "_items")

    def __init__(self, count: int, build: Callable[[], list[SimTrade]]):
        self._count, self._build, self._items = count, build, None

    def materialized(self) -> list[SimTrade]:
        if self._items is None:
            self._items = self._build()
        return self._items

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        return self.materialized()[index]

    def __iter__(self) -> Iterator[SimTrade]:
        return iter(self.materialized())

    def __add__(self, other) -> list[SimTrade]:
        return self.materialized() + list(other)

    def __radd__(self, other) -> list[SimTrade]:
        return list(other) + self.materialized()

    def __eq__(self, other) -> bool:
        if isinstance(other, LazyTrades | list):
            return self.materialized() == list(other)
        return NotImplemented

    __hash__ = None  # like a list

    def __reduce__(self):
        # The builder is a closure over the run's arrays: what is pickled (or deep-copied) is the plain list it builds.
        return list, (self.materialized(),)

    def __repr__(self) -> str:
        return f"LazyTrades({self._count} trades)"
