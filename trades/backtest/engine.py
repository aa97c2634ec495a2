"""The simulation: signals in, trades and an equity curve out. No Django, no I/O.

It makes the live cycle's decisions with the live cycle's functions:

- sizing and protective prices: ``trades.risk`` (``plan_entry``, ``protective_prices``,
  ``daily_loss_breached``), called as ``trades.cycle`` calls them: sized at the signal candle's close,
  stop-loss and take-profit placed from the fill price;
- which candle triggers a stop and which of stop-loss / take-profit it is (the stop when one candle
  reaches both; a gap fills at the open): ``market.fills.stop_or_take_profit``, the paper exchange's;
- a trailing stop, partial take-profits and a time exit (the strategy's extra exits): ``market.exits``, walked
  one 1-minute candle at a time in Decimal exactly as the paper exchange walks them (``candle_step``), the time
  exit at the open of the first minute it is due (``time_exit_minute``), as the live cycle closes it.

Perpetual costs, as the paper exchange charges them: funding (``EngineConfig.funding``, a
``perpetual.FundingSchedule``) is summed per trade over the funding times it was held at, a slice of a sorted
array, into cash at its close; isolated-margin liquidation (``market.liquidation``) is found like a stop when it
comes before the trade's stop (exit reason "liquidation", at its price, no slippage), and for a trade with nothing
else to watch, lazily, one stretch of candles at a time, skipped at once when the market never gets that far.

Timing, as the live cycle sees it: a signal on a closed candle fills at the next 1-minute open; the
position's stops are checked from its entry candle on; a stop reached inside a minute is known when
that minute closes, so the next entry can come at the following open (a stop reached by the open
itself is settled before the cycle decides, so an entry may follow at that same open). While a
position is open, further signals are skipped ("already held"), as in the live cycle; with
``reverse=True`` (the benchmark's rule, not a live one) an opposite signal closes and reverses it.

Speed: nothing runs per candle in Python. Finding where a stop triggers scans the high/low arrays in
growing blocks, the equity curve is a cumulative sum (``equity.curve``), and Python runs once per signal, in
floats. A run in which no trade needs a decision of its own (a fixed size, no stops, no exit hooks, no daily-loss
limit, no AI filter, no funding, no reachable liquidation or margin refusal) does not run the loop at all:
``fast_path`` resolves it in numpy, to the same result.
Money in floats is only for deciding and plotting: ``trades.backtest.ledger`` replays every trade
through ``market.fills`` in Decimal for the stored report (the tests hold the two to 1e-6 USDT).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import pandas as pd

from market import exits, fills, liquidation
from market.types import Side
from strategies.sdk import trade_exits
from trades.backtest import equity, fast_path
from trades.backtest.inputs import CandleCloses, SignalEvents
from trades.backtest.perpetual import sizes_at
from trades.backtest.records import (
    AI_SKIPPED,
    ENTERED,
    HELD,
    MARGIN,
    MINUTE_NS,
    OUTCOMES,
    PAUSED,
    RISK,
    TICK_EPSILON,
    ZERO,
    EngineConfig,
    EngineResult,
    LazyTrades,
    Minutes,
    PartialExit,
    Prices,
    SimTrade,
    dec,
    liquidation_reach,
)
from trades.risk import RiskRejected, daily_loss_breached, exit_plan, plan_entry, protective_prices

# The records live in ``records`` (``fast_path`` builds them without importing the loop); their old home still names
# them, for the ledger, the report, the portfolio and the tests.
__all__ = ["AI_SKIPPED", "ENTERED", "HELD", "MARGIN", "MINUTE_NS", "OUTCOMES", "PAUSED", "RISK", "TICK_EPSILON",
           "ZERO", "EngineConfig", "EngineResult", "LazyTrades", "Minutes", "PartialExit", "Prices", "SimTrade", "dec",
           "first_touch", "simulate"]


@dataclass(frozen=True)
class _Exit:
    bar: int
    at_open: bool  # reached by the candle's open: settled before the cycle decides at that minute
    trigger: fills.Trigger | None  # None: decided by market.exits (the trade's exit_base and exit_reason)

    @property
    def free_at(self) -> int:
        """The first minute at which the live cycle could enter again."""
        return self.bar if self.at_open else self.bar + 1



class _Simulation:
    def __init__(self, minutes: Minutes, config: EngineConfig, closes: CandleCloses | None = None):
        self.m, self.c, self.prices = minutes, config, Prices(config)
        self.n = len(minutes)
        self.closes = closes
        # The minutes at which an exit signal closes a long / a short, and the rows they come from.
        self.exit_rows = {direction: np.flatnonzero(flags) for direction, flags in (
            (1, closes.exit_long if closes is not None else np.zeros(0, dtype=bool)),
            (-1, closes.exit_short if closes is not None else np.zeros(0, dtype=bool)))}
        self.cash = float(config.initial_balance)
        self.fees = 0.0
        self.trades: list[SimTrade] = []
        self.realized_by_day: dict[int, float] = {}
        self.paused_day: int | None = None
        self.fixed_qty = Decimal(config.fixed_qty) if config.fixed_qty is not None else None
        self.fixed_size = float(self.fixed_qty) if self.fixed_qty is not None else 0.0
        self.leverage = float(config.risk.leverage)
        self.extremes: tuple[np.ndarray, np.ndarray] | None = None
        self.liq_reach = liquidation_reach(self.leverage)
        self.liquidation_on = config.liquidation
        self.extreme_lists: tuple[list[float], list[float]] | None = None

    def funds(self, bar: int) -> tuple[float, float]:
        """(equity, available margin) the cycle would size an entry at ``bar`` on: one symbol, flat, so both are the
        cash (``trades.backtest.portfolio`` shares them between symbols)."""
        return self.cash, self.cash

    def margin_room(self, bar: int) -> float:
        """What the exchange lets an order at ``bar`` use for margin and fee."""
        return self.cash

    def pause_reason(self, bar: int) -> str:
        limit = self.c.daily_loss_limit
        if limit is None:
            return ""
        day = int(self.m.day[bar])
        realized = dec(round(self.realized_by_day.get(day, 0.0), 8))
        if self.paused_day == day or daily_loss_breached(realized, dec(round(self.funds(bar)[0], 8)), limit):
            self.paused_day = day
            return f"paused: daily loss limit {limit}% of equity reached ({realized:.2f} USDT realized that day)"
        return ""

    def open(self, action: int, bar: int, reference: float, signal_time: int) -> tuple[SimTrade | None, str, str]:
        c = self.c
        qty = self.fixed_qty
        if qty is None:
            equity, available = self.funds(bar)
            try:
                qty = plan_entry(action="LONG" if action > 0 else "SHORT", price=dec(reference),
                                 equity=dec(round(equity, 8)), available=dec(round(available, 8)), params=c.risk,
                                 rules=c.rules, max_notional=c.max_notional).qty
            except RiskRejected as error:
                return None, RISK, f"risk: {error}"
        size = self.fixed_size if qty is self.fixed_qty else float(qty)
        price = self.prices.slipped(action, float(self.m.open[bar]))
        fee = size * price * self.prices.rate
        needed = size * price / self.leverage + fee
        room = self.margin_room(bar)
        if needed > room:  # the paper exchange refuses it ("ab not enough for new order")
            return None, MARGIN, f"margin: needs {needed:.2f} USDT, {room:.2f} available"
        stop = target = plan = None
        side = Side.BUY if action > 0 else Side.SELL
        if c.protective_stops and c.risk.has_extra_exits:
            # Armed at the open the entry filled at: the price the paper exchange sees when the trade is protected.
            plan = exits.arm(exit_plan(side, dec(price), qty, c.risk, c.rules), dec(self.m.open[bar]))
            stop, target = plan.stop, plan.take_profit
        elif c.protective_stops:
            stop, target = protective_prices(side, dec(price), c.risk, c.rules)
        self.cash -= fee
        self.fees += fee
        trade = SimTrade(side=fills.BUY if action > 0 else fills.SELL, direction=action, qty=qty, size=size,
                         signal_time=signal_time, entry_bar=bar, entry_price=price,
                         entry_fee=fee, stop_loss=stop, take_profit=target, plan=plan, liq_scanned=bar)
        if self.liquidation_on and self.may_liquidate(action, price, bar):
            trade.liq_price = liquidation.liquidation_price(trade.side, dec(price), c.risk.leverage, c.rules.tick_size)
        return trade, ENTERED, ""

    def may_liquidate(self, direction: int, entry: float, bar: int) -> bool:
        """Whether the market ever reaches, from ``bar`` on, about where a position entered at ``entry`` would be
        liquidated (a tick and a hair nearer, to be safe): when it cannot, the trade needs no watching at all."""
        if self.extremes is None:  # the lowest low and highest high from each candle to the end, once per run
            self.extremes = (np.minimum.accumulate(self.m.low[::-1])[::-1],
                             np.maximum.accumulate(self.m.high[::-1])[::-1])
        level = entry * (1 - direction * self.liq_reach) * (1 + direction * 1e-6) + direction * self.prices.tick
        return self.extremes[0][bar] <= level if direction > 0 else self.extremes[1][bar] >= level

    def liquidating(self, trade: SimTrade, stop) -> bool:
        """Whether the price meets the trade's liquidation before ``stop`` (its stop is further, or it has none)."""
        return trade.liq_price is not None and liquidation.before_stop(trade.side, trade.liq_price, stop)

    def watch_liquidation(self, trade: SimTrade, until: int) -> _Exit | None:
        """A trade with no stop or target to scan for (found lazily): the first candle up to ``until`` (included)
        that reaches its liquidation price. Each candle is looked at once over the trade's life."""
        if trade.liq_price is None or until < trade.liq_scanned:
            return None
        long_, level = trade.direction > 0, float(trade.liq_price)
        if until - trade.liq_scanned < 64:  # a short stretch (most of them): plain lists beat a numpy call
            if self.extreme_lists is None:
                self.extreme_lists = (self.m.low.tolist(), self.m.high.tolist())
            if (min(self.extreme_lists[0][trade.liq_scanned:until + 1]) > level if long_
                    else max(self.extreme_lists[1][trade.liq_scanned:until + 1]) < level):
                trade.liq_scanned = until + 1
                return None
        bar = first_touch(self.m.low, self.m.high, trade.liq_scanned, level, None, long_, until + 1)
        trade.liq_scanned = until + 1
        return None if bar < 0 else self.liquidated(trade, bar)

    def liquidated(self, trade: SimTrade, bar: int) -> _Exit:
        level, open_ = float(trade.liq_price), float(self.m.open[bar])
        at_open = open_ <= level if trade.direction > 0 else open_ >= level
        return self._decided(trade, bar, at_open, trade.liq_price, liquidation.LIQUIDATION)

    def find_exit(self, trade: SimTrade) -> _Exit | None:
        """How the trade ends: the first of its stops (``protective_exit``) and the strategy's exit signal; with
        ``custom_exit`` / ``custom_stoploss``, walked candle by candle (``walk_with_strategy``)."""
        trade.liq_scanned = self.n  # every way of finding the exit looks for the liquidation too
        if self.closes is not None and self.closes.strategy is not None:
            return self.walk_with_strategy(trade)
        until, row = self.signal_exit_bar(trade)
        exit_ = self.protective_exit(trade, until)
        # A stop the decision minute's open reaches settles first; anything later in that minute comes too late.
        if until < self.n and (exit_ is None or exit_.bar > until or (exit_.bar == until and not exit_.at_open)):
            return self.close_by_signal(trade, until, trade_exits.EXIT_SIGNAL, self.closes.tags[row] or "exit signal")
        return exit_

    def signal_exit_bar(self, trade: SimTrade) -> tuple[int, int]:
        """The minute at which the first exit signal for the trade's side, on a candle that closed after the entry,
        closes it, and that candle's row; (past the end, -1) when none does."""
        rows = self.exit_rows[trade.direction]
        if not len(rows):
            return self.n, -1
        minutes = self.closes.minute[rows]
        k = int(np.searchsorted(minutes, trade.entry_bar, side="right"))
        if k >= len(rows) or minutes[k] >= self.n:
            return self.n, -1
        return int(minutes[k]), int(rows[k])

    def close_by_signal(self, trade: SimTrade, bar: int, kind: str, tag: str) -> _Exit:
        """A market close at the open of ``bar``; parts the walk saw filling after that open never did."""
        trade.partials = [part for part in trade.partials if part.bar < bar or (part.bar == bar and part.at_open)]
        trade.exit_tag = tag
        return self._decided(trade, bar, True, dec(self.m.open[bar]), kind)

    def protective_exit(self, trade: SimTrade, until: int) -> _Exit | None:
        """The first candle, from the entry's to ``until`` (included), whose range triggers the stop-loss or
        take-profit, or the extra exits (``walk_exits``)."""
        if trade.plan is not None or self.c.risk.exit_after_candles:
            return self.walk_exits(trade, until)
        if trade.stop_loss is None and trade.take_profit is None:
            # Only the liquidation to look for: up to a known exit now, else lazily (``watch_liquidation``).
            trade.liq_scanned = trade.entry_bar
            return self.watch_liquidation(trade, until) if until < self.n and trade.liq_price is not None else None
        m, long_ = self.m, trade.direction > 0
        liquidating = self.liquidating(trade, trade.stop_loss)
        stop = float(trade.liq_price) if liquidating else float(trade.stop_loss) if trade.stop_loss else None
        target = float(trade.take_profit) if trade.take_profit else None
        bar, end = trade.entry_bar, min(until + 1, self.n)
        while (bar := first_touch(m.low, m.high, bar, stop, target, long_, end)) >= 0:
            o, h, lo = float(m.open[bar]), float(m.high[bar]), float(m.low[bar])
            trigger = fills.stop_or_take_profit(trade.side, stop, target, o, h, lo)
            if trigger is not None and liquidating and trigger.kind == "stop_loss":
                return self.liquidated(trade, bar)
            if trigger is not None:
                at_open = fills.stop_or_take_profit(trade.side, stop, target, o, o, o) is not None
                return _Exit(bar, at_open, trigger)
            bar += 1
        return None

    def walk_exits(self, trade: SimTrade, until: int | None = None) -> _Exit | None:
        """The extra exits, one 1-minute candle at a time from the entry's to ``until`` (``market.exits.candle_step``,
        as the paper exchange runs it): partial take-profits are recorded on the trade as they fill; the exit that
        closes what is left is returned (None: still open then)."""
        plan, remaining, due = trade.plan or exits.ExitPlan(trade.side), trade.qty, self.time_exit_bar(trade)
        for bar in range(trade.entry_bar, self.n if until is None else min(until + 1, self.n)):
            exit_, plan, remaining = self.step(trade, plan, remaining, bar, due)
            if exit_ is not None:
                return exit_
        return None

    def step(self, trade: SimTrade, plan: exits.ExitPlan, remaining: Decimal, bar: int,
             due: int) -> tuple[_Exit | None, exits.ExitPlan, Decimal]:
        """One 1-minute candle of an open trade: its fills, and the exit if it closed what was left."""
        m = self.m
        open_ = dec(m.open[bar])
        high, low = (open_, open_) if bar == due else (dec(m.high[bar]), dec(m.low[bar]))
        if self.liquidating(trade, plan.stop) and liquidation.reached(trade.side, trade.liq_price, low, high):
            return self.liquidated(trade, bar), plan, ZERO
        outcome = exits.candle_step(plan, remaining, open_, high, low)
        for part in outcome.fills[:-1] if outcome.closed else outcome.fills:
            self.close_part(trade, bar, part)
        if outcome.closed:
            last = outcome.fills[-1]
            return self._decided(trade, bar, last.at_open, last.price, last.kind), plan, ZERO
        if bar == due:  # the live cycle closes it at this minute, after what its open settled
            return self._decided(trade, bar, True, open_, exits.TIME_EXIT), plan, remaining
        return None, outcome.plan, outcome.remaining

    def walk_with_strategy(self, trade: SimTrade) -> _Exit | None:
        """The trade walked minute by minute (``step``), and at each minute where one of the strategy's candles
        has just closed, the strategy asked about it (``strategies.sdk.trade_exits.advise``) as the live cycle
        asks it at that minute: after what the open settled, before the rest of the minute."""
        closes, m = self.closes, self.m
        plan = trade.plan or exits.ExitPlan(trade.side, stop=trade.stop_loss, take_profit=trade.take_profit)
        remaining, due = trade.qty, self.time_exit_bar(trade)
        row = int(np.searchsorted(closes.minute, trade.entry_bar, side="right"))
        bar = trade.entry_bar
        while bar < len(m):
            decide_at = int(closes.minute[row]) if row < len(closes.minute) else len(m)
            for minute in range(bar, min(decide_at, len(m))):
                exit_, plan, remaining = self.step(trade, plan, remaining, minute, due)
                if exit_ is not None:
                    return exit_
            if decide_at >= len(m):
                return None
            at_open = self.open_alone(plan, remaining, decide_at)
            if decide_at != due and not at_open.closed:
                advice = self.advise(trade, plan, remaining, row)
                if advice.closes:  # after the partial take-profits that open filled
                    for part in at_open.fills:
                        self.close_part(trade, decide_at, part)
                    return self.close_by_signal(trade, decide_at, advice.kind, advice.reason)
                if advice.stop is not None:
                    plan = replace(plan, stop=advice.stop)
            exit_, plan, remaining = self.step(trade, plan, remaining, decide_at, due)
            if exit_ is not None:
                return exit_
            bar, row = decide_at + 1, row + 1
        return None

    def open_alone(self, plan: exits.ExitPlan, remaining: Decimal, bar: int) -> exits.CandleOutcome:
        """What the minute's open alone fills (a gap through the stop, the target or partial targets): settled
        before the cycle decides at that minute."""
        open_ = dec(self.m.open[bar])
        return exits.candle_step(plan, remaining, open_, open_, open_)

    def advise(self, trade: SimTrade, plan: exits.ExitPlan, remaining: Decimal, row: int) -> trade_exits.ExitAdvice:
        closes, m = self.closes, self.m
        held = trade_exits.HeldTrade(
            pair=closes.pair, side=trade.side, open_rate=trade.entry_price,
            open_time=pd.Timestamp(int(m.start[trade.entry_bar]), tz="UTC").to_pydatetime(),
            amount=float(remaining), stop_loss=None if plan.stop is None else float(plan.stop))
        exit_flag = closes.exit_long[row] if trade.direction > 0 else closes.exit_short[row]
        return trade_exits.advise(
            closes.strategy, held, candle_close=pd.Timestamp(int(closes.close_time[row]), tz="UTC").to_pydatetime(),
            rate=float(closes.close[row]), exit_signal=bool(exit_flag), exit_tag=closes.tags[row],
            rules=self.c.rules)

    @staticmethod
    def _decided(trade: SimTrade, bar: int, at_open: bool, base: Decimal, reason: str) -> _Exit:
        trade.exit_base, trade.exit_reason = base, reason
        return _Exit(bar, at_open, None)

    def time_exit_bar(self, trade: SimTrade) -> int:
        """The 1-minute candle at whose open the time exit closes the trade (past the end: none)."""
        risk = self.c.risk
        if not risk.exit_after_candles:
            return self.n
        minute = exits.time_exit_minute(int(self.m.start[trade.entry_bar]) // MINUTE_NS, risk.exit_after_candles,
                                        risk.candle_minutes)
        return int(np.searchsorted(self.m.start, minute * MINUTE_NS, side="left"))

    def close_part(self, trade: SimTrade, bar: int, part: exits.ExitFill) -> None:
        size = float(part.qty)
        fill = self.prices.slipped(-trade.direction, float(part.price))
        fee = size * fill * self.prices.rate
        gross = (fill - trade.entry_price) * size * trade.direction
        self.cash += gross - fee
        self.fees += fee
        trade.partials.append(PartialExit(bar, part.qty, part.price, part.kind, fill, fee, gross, part.at_open))

    def close(self, trade: SimTrade, bar: int, price: float, reason: str) -> None:
        if reason == "reverse":  # at the open: the parts the walk saw filling from then on never did
            if trade.partials:
                trade.partials = [part for part in trade.partials if part.bar < bar]
            trade.exit_base = None
        size = trade.remaining_size
        # The exchange's liquidation engine takes the position over at the liquidation price: no slippage.
        fill = price if reason == liquidation.LIQUIDATION else self.prices.slipped(-trade.direction, price)
        fee = size * fill * self.prices.rate
        gross = (fill - trade.entry_price) * size * trade.direction
        self.cash += gross - fee
        self.fees += fee
        if self.c.funding is not None:
            trade.funding = float(self.funding_moves(trade, bar)[1].sum())
            self.cash += trade.funding
        if trade.partials:  # the generators cost more than the rest of a close; "+ 0.0" is what an empty sum adds
            gross += sum(part.gross for part in trade.partials)
            fee += sum(part.fee for part in trade.partials)
        else:
            gross, fee = gross + 0.0, fee + 0.0
        trade.exit_bar, trade.exit_price, trade.exit_fee, trade.exit_reason = bar, fill, fee, reason
        trade.gross, trade.pnl = gross, gross - trade.entry_fee - fee
        if self.c.daily_loss_limit is not None:
            day = int(self.m.day[bar])
            self.realized_by_day[day] = self.realized_by_day.get(day, 0.0) + trade.pnl
        self.trades.append(trade)

    def funding_moves(self, trade: SimTrade, exit_bar: int) -> tuple[np.ndarray, np.ndarray]:
        """The candles at which the trade's funding moved cash, and the amounts (held over ``entry < T <= exit``)."""
        schedule = self.c.funding
        held = schedule.held(trade.entry_bar, exit_bar)
        bars = schedule.bar[held]
        sizes = sizes_at(bars, trade.size, [(part.bar, float(part.qty)) for part in trade.partials])
        return bars, schedule.amounts(held, trade.direction, sizes, self.m.close)

    def close_at(self, trade: SimTrade, exit_: _Exit) -> None:
        if exit_.trigger is None:
            self.close(trade, exit_.bar, float(trade.exit_base), trade.exit_reason)
        else:
            self.close(trade, exit_.bar, exit_.trigger.price, exit_.trigger.kind)


def simulate(minutes: Minutes, events: SignalEvents, config: EngineConfig, *, trade_from: int = 0,
             ai_filter: Callable[[int], str] | None = None, progress: Callable[[float], None] | None = None,
             closes: CandleCloses | None = None) -> EngineResult:
    """Replay ``events`` over ``minutes``. ``ai_filter(event_index)`` returns "" to go ahead, or why not.
    ``closes``: the strategy's exit signals and custom exit hooks (None: it has neither).

    A run in which no trade needs a decision of its own is resolved in numpy (``fast_path``, the same result);
    the loop below runs whenever one of its preconditions fails."""
    if fast_path.applies(config, ai_filter, closes):
        resolved = fast_path.resolve(minutes, events, config, trade_from=trade_from, progress=progress)
        if resolved is not None:
            return resolved
    sim = _Simulation(minutes, config, closes)
    outcomes: list[str] = []
    details: list[str] = []
    trade: SimTrade | None = None
    exit_: _Exit | None = None
    count = len(events)
    every = max(1, count // 50)
    opens = minutes.open
    limited = config.daily_loss_limit is not None
    watching = config.liquidation
    firsts, ends, actions, prices, times = (events.first.tolist(), events.end.tolist(), events.action.tolist(),
                                            events.price.tolist(), events.candle_time.tolist())
    for i in range(count):
        if progress is not None and i % every == 0:
            progress(i / count)
        first, end, action = firsts[i], ends[i], actions[i]
        if watching and exit_ is None and trade is not None and trade.liq_price is not None:
            exit_ = sim.watch_liquidation(trade, end - 1)
        if trade is not None:
            if exit_ is not None and (exit_.bar < first or (exit_.bar == first and exit_.at_open)):
                sim.close_at(trade, exit_)
            elif config.reverse and trade.direction != action:
                sim.close(trade, first, float(opens[first]), "reverse")
            elif exit_ is not None and exit_.free_at < end:  # stopped out while this signal is still fresh
                sim.close_at(trade, exit_)
                first = exit_.free_at
            else:
                outcomes.append(HELD)
                details.append(f"{'long' if trade.direction > 0 else 'short'} position already held")
                continue
            trade = exit_ = None
        why, skipped = (sim.pause_reason(first) if limited else ""), PAUSED
        if not why and ai_filter is not None:
            why, skipped = ai_filter(i), AI_SKIPPED
        if why:
            outcomes.append(skipped)
            details.append(why)
            continue
        trade, outcome, why = sim.open(action, first, prices[i], times[i])
        outcomes.append(outcome)
        details.append(why)
        if trade is not None:
            exit_ = sim.find_exit(trade)
    if trade is not None and exit_ is None and watching:
        exit_ = sim.watch_liquidation(trade, len(minutes) - 1)
    if trade is not None and exit_ is not None:
        sim.close_at(trade, exit_)
        trade = None
    if progress is not None:
        progress(1.0)
    return _result(sim, trade, outcomes, details, trade_from)


def first_touch(low: np.ndarray, high: np.ndarray, start: int, stop: float | None, target: float | None,
                long_: bool, end: int | None = None) -> int:
    """Index of the first candle from ``start`` (before ``end``) whose range reaches ``stop`` or ``target``, or -1.

    Scans in blocks that grow fourfold, so a stop hit soon costs a few hundred comparisons and a late
    one never costs more than about twice the candles it had to look at.
    """
    inf = np.inf
    stop = (-inf if long_ else inf) if stop is None else stop
    target = (inf if long_ else -inf) if target is None else target
    n, width = len(low) if end is None else min(end, len(low)), 256
    while start < n:
        stop_at = min(n, start + width)
        if long_:
            hit = (low[start:stop_at] <= stop) | (high[start:stop_at] >= target)
        else:
            hit = (high[start:stop_at] >= stop) | (low[start:stop_at] <= target)
        k = int(hit.argmax())
        if hit[k]:
            return start + k
        start, width = stop_at, min(width * 4, 1 << 18)
    return -1


def _result(sim: _Simulation, open_trade: SimTrade | None, outcomes: list[str], details: list[str],
            trade_from: int) -> EngineResult:
    m = sim.m
    n = len(m)
    everything = sim.trades + ([open_trade] if open_trade is not None else [])
    # One pass over the trades for their columns (the partial exits, rare, in a second one).
    entry_bar, exit_bar, signed, entry_price, entry_cash, exit_cash, closed_parts = [], [], [], [], [], [], []
    for t in everything:
        entry_bar.append(t.entry_bar)
        exit_bar.append(t.exit_bar if t.exit_bar >= 0 else n)
        signed.append(t.size * t.direction)
        entry_price.append(t.entry_price)
        entry_cash.append(-t.entry_fee)
        exit_cash.append(t.gross - t.exit_fee - sum(p.gross - p.fee for p in t.partials) if t.partials
                         else t.gross - t.exit_fee - 0)
        closed_parts.append(sum(float(p.qty) for p in t.partials) * t.direction if t.partials else 0)
    entry_bar, exit_bar = np.array(entry_bar, dtype=np.int64), np.array(exit_bar, dtype=np.int64)
    signed, entry_price = np.array(signed, dtype="float64"), np.array(entry_price, dtype="float64")
    # Cash moves at fills: the entry fee out at the entry candle, PnL less the exit fee in at the exit candle.
    # A part closed early (a partial take-profit) leaves the holding, and pays in, at its own candle.
    parts = [(p, t) for t in everything if t.partials for p in t.partials]
    part_bar = np.array([p.bar for p, _ in parts], dtype=np.int64)
    part_signed = np.array([float(p.qty) * t.direction for p, t in parts], dtype="float64")
    part_entry = np.array([t.entry_price for _, t in parts], dtype="float64")
    cash_bar = [entry_bar, exit_bar, part_bar]
    cash_amount = [np.array(entry_cash, dtype="float64"), np.array(exit_cash, dtype="float64"),
                   np.array([p.gross - p.fee for p, _ in parts], dtype="float64")]
    final = sim.cash
    if sim.c.funding is not None:
        for trade in everything:
            bars, amounts = sim.funding_moves(trade, trade.exit_bar if trade.exit_bar >= 0 else n - 1)
            cash_bar.append(bars)
            cash_amount.append(amounts)
            if trade is open_trade:
                trade.funding = float(amounts.sum())
                final += trade.funding
    remaining = signed - np.array(closed_parts, dtype="float64")
    curve, open_count = equity.curve(m.close, float(sim.c.initial_balance), np.concatenate(cash_bar).astype(np.int64),
                                     np.concatenate(cash_amount), entry_bar, exit_bar, signed, remaining, entry_price,
                                     part_bar, part_signed, part_entry)
    if open_trade is not None and n:
        final += (float(m.close[-1]) - open_trade.entry_price) * open_trade.remaining_size * open_trade.direction
    return EngineResult(trades=sim.trades, open_trade=open_trade, equity=curve[trade_from:],
                        exposure=open_count[trade_from:] > 0, outcomes=outcomes, details=details,
                        final_equity=final, fees_paid=sim.fees, trade_from=trade_from)
