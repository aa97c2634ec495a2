"""What a strategy says about a trade it holds, once per closed candle: the one rule the live cycle and the
backtest engine share for exit signals, ``custom_exit`` and ``custom_stoploss``.

When a candle of the strategy's timeframe closes after the trade's signal candle, in this order:

1. an exit signal for the trade's side (``exit_long`` on a long, ``exit_short`` on a short) closes it, the reason
   being the row's ``exit_tag`` (or "exit signal");
2. else ``custom_exit`` may name a reason to close it;
3. else ``custom_stoploss`` may move the stop: its answer is a ratio of the candle's close (the sign is ignored,
   as freqtrade does: 0.02 and -0.02 both put the stop 2 % on the losing side of the close), rounded to the tick;
   only a stop nearer the price than the current one is taken (a stop never moves against the trade).

The candle's close is the rate the hooks see, its close time the time: the live cycle acts on that candle at the
first minute after it closed, the backtest at the same minute's open, so both ask the same question with the same
facts. A close is a market order at that minute; a stop set beyond where the price already is closes the trade
there too (the exchange would refuse such a stop, the backtest fills it at the open: the same outcome).

Pure: no Django, no I/O. Whatever a hook raises or returns that cannot be used is a ``StrategyError`` naming the
hook and the file and line; the caller holds the trade with the protection it has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from market.types import InstrumentRules
from strategies.sdk.base import IStrategy
from strategies.sdk.kernel import StrategyError, call_hook

BUY = "Buy"
EXIT_SIGNAL, CUSTOM_EXIT = "exit_signal", "custom_exit"
ONE = Decimal("1")


@dataclass(frozen=True)
class HeldTrade:
    """The facts about an open trade a strategy's hooks may read (as a dict, freqtrade's names)."""

    pair: str
    side: str  # Buy (long) or Sell (short)
    open_rate: float  # the entry fill price
    open_time: datetime  # when the entry filled
    amount: float  # what is still held (after partial take-profits)
    stop_loss: float | None
    enter_tag: str = ""
    id: int | None = None

    @property
    def is_short(self) -> bool:
        return self.side != BUY

    def as_dict(self) -> dict:
        return {"id": self.id, "pair": self.pair, "side": "short" if self.is_short else "long",
                "is_short": self.is_short, "open_rate": self.open_rate, "open_date": self.open_time,
                "open_date_utc": self.open_time, "amount": self.amount, "stop_loss": self.stop_loss,
                "enter_tag": self.enter_tag}

    def profit(self, rate: float) -> float:
        """The price move since entry as a ratio, in the trade's favour (fees left out)."""
        change = rate / self.open_rate - 1 if self.open_rate else 0.0
        return -change if self.is_short else change


@dataclass(frozen=True)
class ExitAdvice:
    kind: str = ""  # EXIT_SIGNAL or CUSTOM_EXIT when the trade is to close now; "" otherwise
    reason: str = ""  # shown as the trade's exit reason
    stop: Decimal | None = None  # a stop nearer the price to set now (None: keep the one it has)

    @property
    def closes(self) -> bool:
        return bool(self.kind)


KEEP = ExitAdvice()


def has_callbacks(cls: type[IStrategy]) -> bool:
    """Whether the class overrides ``custom_exit`` or ``custom_stoploss`` (the backtest walks such a trade candle by
    candle; without them it looks the exit up in arrays)."""
    return any(getattr(cls, hook) is not getattr(IStrategy, hook) for hook in ("custom_exit", "custom_stoploss"))


def advise(strategy: IStrategy, trade: HeldTrade, *, candle_close: datetime, rate: float, exit_signal: bool,
           exit_tag: str, rules: InstrumentRules, callbacks: bool = True) -> ExitAdvice:
    """What to do with ``trade`` now that the candle closing at ``candle_close`` at ``rate`` has closed.
    ``exit_signal``: the row's exit flag for the trade's side. ``callbacks=False`` skips the two custom hooks
    (a class that does not override them)."""
    if exit_signal:
        return ExitAdvice(EXIT_SIGNAL, exit_tag or "exit signal")
    if not callbacks:
        return KEEP
    facts = trade.as_dict()
    profit = trade.profit(rate)
    reason = call_hook(strategy, "custom_exit", facts, candle_close, rate, profit)
    if reason is not None and reason is not False and reason != "":
        if reason is True:
            return ExitAdvice(CUSTOM_EXIT, "custom exit")
        if not isinstance(reason, str):
            raise StrategyError(f"{type(strategy).key()}.custom_exit must return a reason (str) or None, got "
                                f"{type(reason).__name__}")
        return ExitAdvice(CUSTOM_EXIT, reason)
    ratio = call_hook(strategy, "custom_stoploss", facts, candle_close, rate, profit)
    stop = stop_from_ratio(type(strategy).key(), trade.side, rate, ratio, rules)
    if stop is None or not nearer(trade.side, stop, trade.stop_loss):
        return KEEP
    return ExitAdvice(stop=stop)


def stop_from_ratio(key: str, side: str, rate: float, ratio, rules: InstrumentRules) -> Decimal | None:
    """The stop ``ratio`` of ``rate`` on the losing side, on the tick; None for None (keep the stop)."""
    if ratio is None:
        return None
    try:
        distance = abs(Decimal(repr(float(ratio))))
    except (TypeError, ValueError, InvalidOperation):
        raise StrategyError(f"{key}.custom_stoploss must return a ratio (e.g. -0.02) or None, got "
                            f"{type(ratio).__name__}") from None
    if not math.isfinite(float(ratio)) or not 0 < distance < 1:
        raise StrategyError(f"{key}.custom_stoploss returned {ratio!r}: a stop is a ratio between 0 and 1 of the "
                            f"current rate (e.g. -0.02 for 2 %)")
    price = Decimal(repr(float(rate)))
    stop = rules.round_price(price * (ONE - distance if side == BUY else ONE + distance))
    return stop if stop > 0 else None


def nearer(side: str, stop: Decimal, current: float | Decimal | None) -> bool:
    """Whether ``stop`` is nearer the price (better for the trade) than ``current``; any stop beats none."""
    if current is None:
        return True
    current = Decimal(repr(float(current))) if isinstance(current, float) else current
    return stop > current if side == BUY else stop < current


def crossed(side: str, stop: Decimal, price: Decimal) -> bool:
    """Whether the price is already at or beyond ``stop`` (setting it now would close the trade at once)."""
    return price <= stop if side == BUY else price >= stop
