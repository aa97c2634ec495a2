"""A portfolio backtest: several symbols in one run, sharing one wallet, decided as the live cycle decides.

Each symbol keeps the one-symbol engine's machinery (``engine._Simulation``: opening, finding a trade's exit,
closing, funding, liquidation), run as a *leg* whose cash, fees and daily-loss book are the portfolio's. What the
portfolio adds is the cycle's rules across symbols (``trades.cycle._pre_checks`` and ``_plan``), taken at every
minute where something can change, in time order:

1. exits first: every trade whose exit the market reached by that minute's open is closed (a stop inside the
   minute is known only when it closes, so it frees its symbol and slot for the minute after, as in one symbol);
2. then the signals still fresh at that minute (their candle's window, ``SignalEvents.first``..``end``), in the
   cycle's order (the strategy's symbols, as given): a symbol already held waits, and so does every signal once
   ``max_positions`` trades are open; a signal that waited is taken at the first minute a slot frees up before it
   goes stale, or recorded with why it never was;
3. sizing on the shared wallet as ``_plan`` does: ``plan_entry`` on the equity (cash + unrealized PnL at the
   minute's open) and on the margin available then, which shrinks by each entry's ``notional / leverage`` within
   the same minute; the exchange's own margin check then uses what the fills before it left.

Nothing here runs per candle: Python runs once per signal and once per exit, as in one symbol. The stored figures
come from the Decimal ledger of each leg (``ledger.replay_ledger``), joined: the per-symbol breakdown sums to the
run's totals because each trade is in exactly one leg.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from trades.backtest.engine import (
    AI_SKIPPED,
    HELD,
    PAUSED,
    EngineConfig,
    EngineResult,
    Minutes,
    SimTrade,
    _Exit,
    _result,
    _Simulation,
)
from trades.backtest.inputs import CandleCloses, SignalEvents
from trades.backtest.ledger import Ledger, replay_ledger

NEVER = np.iinfo(np.int64).max
SLOTS = "max_positions"


@dataclass(frozen=True)
class Leg:
    """One symbol's inputs, as ``runner.prepare`` makes them."""

    symbol: str
    minutes: Minutes
    events: SignalEvents
    config: EngineConfig
    closes: CandleCloses | None = None
    trade_from: int = 0
    ai_filter: Callable[[int], str] | None = None


@dataclass
class PortfolioResult:
    legs: dict[str, EngineResult]  # per symbol: its trades, outcomes and its share of the equity
    equity: np.ndarray  # float per minute of the first leg's range: the portfolio's equity
    exposure: np.ndarray  # bool per minute: some position was held
    outcomes: list[str]  # every signal, leg after leg
    details: list[str]
    final_equity: float
    max_open: int  # the most trades held at once (never above max_positions)
    trade_from: int


@dataclass
class _Book:
    """What the legs share: the wallet, the daily-loss book and the cycle's margin budget of the current minute."""

    cash: float
    fees: float = 0.0
    realized_by_day: dict = field(default_factory=dict)
    paused_day: int | None = None
    legs: list[_Leg] = field(default_factory=list)
    cycle_time: int = -1
    cycle_equity: float = 0.0
    cycle_available: float = 0.0

    def open_legs(self) -> list[_Leg]:
        return [leg for leg in self.legs if leg.trade is not None]

    def equity_and_margin(self, time: int) -> tuple[float, float]:
        """Equity (cash + unrealized PnL + funding so far) and the margin the open trades use, at ``time``'s open.
        Cash already holds the partial take-profits the engine walked ahead: those after ``time`` are taken out."""
        equity, used = self.cash, 0.0
        for leg in self.open_legs():
            part_cash, remaining, funding = leg.state_at(time)
            price = leg.price_at(time)
            trade = leg.trade
            equity += -part_cash + (price - trade.entry_price) * remaining * trade.direction + funding
            used += remaining * trade.entry_price / leg.leverage
        return equity, used

    def start_cycle(self, time: int) -> None:
        """The balance the cycle reads once, before its entries at ``time`` (``trades.cycle._enter``)."""
        if self.cycle_time != time:
            equity, used = self.equity_and_margin(time)
            self.cycle_time, self.cycle_equity, self.cycle_available = time, equity, equity - used


class _Leg(_Simulation):
    """One symbol's engine, its money in the portfolio's book."""

    def __init__(self, book: _Book, leg: Leg):
        self.book = book
        super().__init__(leg.minutes, leg.config, leg.closes)
        self.realized_by_day = book.realized_by_day
        self.input = leg
        self.trade: SimTrade | None = None
        self.exit: _Exit | None = None
        self.outcomes: list[str | None] = [None] * len(leg.events)
        self.details: list[str] = [""] * len(leg.events)
        starts = leg.minutes.start
        self.first_time = starts[leg.events.first]
        self.end_time = np.where(leg.events.end < len(starts), starts[np.minimum(leg.events.end, len(starts) - 1)],
                                 NEVER)

    cash = property(lambda self: self.book.cash, lambda self, value: setattr(self.book, "cash", value))
    fees = property(lambda self: self.book.fees, lambda self, value: setattr(self.book, "fees", value))
    paused_day = property(lambda self: self.book.paused_day,
                          lambda self, value: setattr(self.book, "paused_day", value))

    # The cycle's balance, shared (engine._Simulation asks these when it sizes and when it fills).
    def funds(self, bar: int) -> tuple[float, float]:
        time = self.time_of(bar)
        self.book.start_cycle(time)
        return self.book.cycle_equity, self.book.cycle_available

    def margin_room(self, bar: int) -> float:
        equity, used = self.book.equity_and_margin(self.time_of(bar))
        return equity - used

    # Time on the shared clock.
    def time_of(self, bar: int) -> int:
        return int(self.m.start[bar]) if bar < len(self.m) else NEVER

    def bar_at(self, time: int) -> int:
        """The first of this symbol's minutes opening at or after ``time``."""
        return int(np.searchsorted(self.m.start, time, side="left"))

    def price_at(self, time: int) -> float:
        bar = self.bar_at(time)
        if bar < len(self.m) and self.m.start[bar] == time:
            return float(self.m.open[bar])
        return float(self.m.close[max(0, bar - 1)])

    def state_at(self, time: int) -> tuple[float, float, float]:
        """For the open trade at ``time``'s open: the cash its later parts already put in the wallet, what it still
        holds, and the funding it has been paid so far."""
        trade, bar = self.trade, self.bar_at(time)
        later = [part for part in trade.partials if part.bar > bar or (part.bar == bar and not part.at_open)]
        remaining = trade.size - sum(float(part.qty) for part in trade.partials if part not in later)
        funding = 0.0
        if self.c.funding is not None and bar > trade.entry_bar:
            funding = float(self.funding_moves(trade, min(bar, len(self.m) - 1))[1].sum())
        return sum(part.gross - part.fee for part in later), remaining, funding

    def exit_time(self) -> tuple[int, bool]:
        return (self.time_of(self.exit.bar), self.exit.at_open) if self.exit is not None else (NEVER, False)

    def settle(self, time: int) -> int:
        """Close the trade if the market closed it by ``time``'s open (a lazily watched liquidation is looked for
        up to that minute first); returns when a trade still open frees its slot, if that became known now."""
        if self.trade is None:
            return NEVER
        found = NEVER
        if self.exit is None and self.c.liquidation:
            self.exit = self.watch_liquidation(self.trade, min(self.bar_at(time), len(self.m) - 1))
            found = self.free_time()
        if self.exit is None:
            return NEVER
        exit_time, at_open = self.exit_time()
        if exit_time < time or (exit_time == time and at_open):
            self.close_at(self.trade, self.exit)
            self.trade = self.exit = None
            return NEVER
        return found

    def free_time(self) -> int:
        """When this leg's trade stops holding its symbol and slot (NEVER: not known to)."""
        return self.time_of(self.exit.free_at) if self.exit is not None else NEVER


def simulate_portfolio(legs: list[Leg], config: EngineConfig, *, max_positions: int,
                       progress: Callable[[float], None] | None = None) -> PortfolioResult:
    """Replay every leg's signals on one wallet (``config``: the shared money settings; each leg has its own
    instrument rules), at most ``max_positions`` trades at once, one per symbol."""
    book = _Book(cash=float(config.initial_balance))
    book.legs = [_Leg(book, leg) for leg in legs]
    queue = sorted((int(leg.first_time[k]), order, k) for order, leg in enumerate(book.legs)
                   for k in range(len(leg.outcomes)))
    pending: list[tuple[int, int]] = []  # (leg order, event index): fresh signals waiting for a symbol or a slot
    frees: list[int] = []  # heap of times at which a trade frees a slot
    cursor, total, max_open = 0, max(1, len(queue)), 0
    while cursor < len(queue) or (pending and frees):
        time = min(queue[cursor][0] if cursor < len(queue) else NEVER, frees[0] if frees else NEVER)
        if time == NEVER:
            break
        while frees and frees[0] <= time:
            heapq.heappop(frees)
        while cursor < len(queue) and queue[cursor][0] <= time:
            pending.append(queue[cursor][1:])
            cursor += 1
        if progress is not None:
            progress(cursor / total)
        for leg in book.legs:
            if (free := leg.settle(time)) != NEVER:
                heapq.heappush(frees, free)
        pending = _decide(book, sorted(pending), time, max_positions, frees)
        max_open = max(max_open, len(book.open_legs()))
    for order, k in pending:
        book.legs[order].outcomes[k] = book.legs[order].outcomes[k] or HELD
    for leg in book.legs:
        if leg.trade is not None and leg.exit is None and leg.c.liquidation:
            leg.exit = leg.watch_liquidation(leg.trade, len(leg.m) - 1)
        if leg.trade is not None and leg.exit is not None:
            leg.close_at(leg.trade, leg.exit)
            leg.trade = leg.exit = None
    if progress is not None:
        progress(1.0)
    return _joined(book, legs, max_open)


def _decide(book: _Book, pending: list[tuple[int, int]], time: int, max_positions: int,
            frees: list[int]) -> list[tuple[int, int]]:
    """The cycle at ``time``: each fresh signal in order entered, skipped for good, or left waiting."""
    waiting = []
    for order, k in pending:
        leg = book.legs[order]
        if leg.end_time[k] <= time:  # stale: it waited in vain
            leg.outcomes[k] = leg.outcomes[k] or HELD
            continue
        held = len(book.open_legs())
        if leg.trade is not None or held >= max_positions:
            leg.outcomes[k] = HELD
            leg.details[k] = (f"{'long' if leg.trade.direction > 0 else 'short'} position already held"
                              if leg.trade is not None else f"max positions reached ({held}/{max_positions})")
            waiting.append((order, k))
            continue
        bar = leg.bar_at(time)
        if bar >= len(leg.m):
            continue
        why, skipped = (leg.pause_reason(bar) if leg.c.daily_loss_limit is not None else ""), PAUSED
        if not why and leg.input.ai_filter is not None:
            why, skipped = leg.input.ai_filter(k), AI_SKIPPED
        if why:
            leg.outcomes[k], leg.details[k] = skipped, why
            continue
        events = leg.input.events
        trade, outcome, why = leg.open(int(events.action[k]), bar, float(events.price[k]),
                                       int(events.candle_time[k]))
        leg.outcomes[k], leg.details[k] = outcome, why
        if trade is None:
            continue
        # The cycle's budget shrinks by the plan's notional over the leverage (trades.cycle._plan).
        book.cycle_available -= float(trade.qty) * float(events.price[k]) / leg.leverage
        leg.trade, leg.exit = trade, leg.find_exit(trade)
        if leg.exit is not None:
            heapq.heappush(frees, leg.free_time())
    return waiting


def _joined(book: _Book, legs: list[Leg], max_open: int) -> PortfolioResult:
    """Every leg's result, and the portfolio's equity on the first leg's minutes."""
    initial = float(legs[0].config.initial_balance)
    results, outcomes, details = {}, [], []
    axis = legs[0].minutes.start[legs[0].trade_from:]
    equity, exposure, final = np.full(len(axis), initial), np.zeros(len(axis), dtype=bool), book.cash
    for leg, sim in zip(legs, book.legs, strict=True):
        done = [outcome or HELD for outcome in sim.outcomes]
        result = _result(sim, sim.trade, done, sim.details, leg.trade_from)
        if sim.trade is not None:  # marked at the last close, its funding so far in (as _result does for one)
            trade = sim.trade
            final += (float(sim.m.close[-1]) - trade.entry_price) * trade.remaining_size * trade.direction
            final += trade.funding
        results[leg.symbol] = result
        outcomes += done
        details += sim.details
        times = leg.minutes.start[leg.trade_from:]
        index = np.searchsorted(times, axis, side="right") - 1
        seen = index >= 0
        equity[seen] += result.equity[index[seen]] - initial
        exposure[seen] |= result.exposure[index[seen]]
    return PortfolioResult(legs=results, equity=equity, exposure=exposure, outcomes=outcomes, details=details,
                           final_equity=final, max_open=max_open, trade_from=legs[0].trade_from)


def joined_ledger(result: PortfolioResult, legs: list[Leg]) -> Ledger:
    """Each leg's Decimal ledger, its trades named by symbol, joined into the portfolio's."""
    ledgers = {leg.symbol: replay_ledger(result.legs[leg.symbol], leg.minutes, leg.config) for leg in legs}
    initial = Decimal(legs[0].config.initial_balance)
    closed = sorted((replace(trade, symbol=symbol) for symbol, ledger in ledgers.items() for trade in ledger.trades),
                    key=lambda trade: (trade.exit_time, trade.entry_time, trade.symbol))
    still_open = [replace(ledger.open_trade, symbol=symbol) for symbol, ledger in ledgers.items()
                  if ledger.open_trade is not None]
    notes = {ledger.funding_note for ledger in ledgers.values()} - {""}
    return Ledger(trades=closed, open_trade=still_open[0] if still_open else None,
                  cash=initial + sum((ledger.cash - initial for ledger in ledgers.values()), Decimal(0)),
                  final_equity=initial + sum((ledger.final_equity - initial for ledger in ledgers.values()),
                                             Decimal(0)),
                  fees_paid=sum((ledger.fees_paid for ledger in ledgers.values()), Decimal(0)),
                  funding=sum((ledger.funding for ledger in ledgers.values()), Decimal(0)),
                  funding_note=min(notes, default=""), more_open=tuple(still_open[1:]))
