"""The engine's vectorized resolution: a run in which no trade needs a decision of its own, resolved in numpy.

``engine.simulate`` tries it first and falls back to its loop whenever a precondition fails. It applies when the
run has a fixed quantity, no protective stops, no time exit, no exit signals or custom exit hooks (``closes`` None),
no daily-loss limit, no AI filter and no funding: then a position only ends when an opposite signal reverses it
(``reverse``) or never, and which signals enter is known from the signals alone (with ``reverse``, every one whose
direction differs from the one before; without, the first). Two things still depend on the money and the market,
and are checked for all the entries at once: a margin refusal (the cash before each entry, a cumulative sum) and a
reachable liquidation (``engine._Simulation.may_liquidate``'s test, on the lowest low and highest high from each
entry on). If either could happen, this returns None and the loop decides, trade by trade.

Every float is computed with the loop's operations in the loop's order (the cash and the fees as sequential
cumulative sums of the same moves, prices slipped and rounded like ``records.Prices.slipped``, the equity curve by
the same ``equity.curve``), so the result equals the loop's exactly: the tests compare them on random runs.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np

from market import fills
from trades.backtest import equity
from trades.backtest.inputs import CandleCloses, SignalEvents
from trades.backtest.records import (
    ENTERED,
    HELD,
    TICK_EPSILON,
    EngineConfig,
    EngineResult,
    LazyTrades,
    Minutes,
    Prices,
    SimTrade,
    liquidation_reach,
)

REVERSE = "reverse"
_OUTCOME = np.array([HELD, ENTERED], dtype=object)
_HELD_DETAIL = np.array(["short position already held", "long position already held", ""], dtype=object)


def applies(config: EngineConfig, ai_filter: Callable | None, closes: CandleCloses | None) -> bool:
    """The preconditions known before looking at the data: nothing that decides per trade."""
    return (ai_filter is None and closes is None and config.fixed_qty is not None and not config.protective_stops
            and not config.risk.exit_after_candles and config.daily_loss_limit is None and config.funding is None)


def slipped(prices: Prices, direction: np.ndarray, price: np.ndarray) -> np.ndarray:
    """``Prices.slipped`` over arrays, with the same operations (``round`` to the tick's places: the nearest float to
    the same multiple of the tick)."""
    buy = direction > 0
    moved = price * np.where(buy, 1 + prices.slippage, 1 - prices.slippage)
    if not prices.tick:
        return moved
    steps = moved / prices.tick
    steps = np.where(buy, np.ceil(steps - TICK_EPSILON), np.floor(steps + TICK_EPSILON))
    return np.round(steps * prices.tick, prices.places)


def _suffix_extremes(low: np.ndarray, high: np.ndarray, bars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lowest low and highest high from each of ``bars`` (non-decreasing) to the last candle: one pass."""
    lowest = np.minimum.reduceat(low, bars)[::-1]
    highest = np.maximum.reduceat(high, bars)[::-1]
    return np.minimum.accumulate(lowest)[::-1], np.maximum.accumulate(highest)[::-1]


def resolve(minutes: Minutes, events: SignalEvents, config: EngineConfig, *, trade_from: int = 0,
            progress: Callable[[float], None] | None = None) -> EngineResult | None:
    """The run's result, or None when a margin refusal or a liquidation is possible (the loop then decides)."""
    count = len(events)
    if not count:
        return None
    if progress is not None:
        progress(0.0)
    prices, leverage = Prices(config), float(config.risk.leverage)
    qty = Decimal(config.fixed_qty)
    size = float(qty)
    action = events.action
    entering = np.zeros(count, dtype=bool)
    entering[0] = True
    if config.reverse:
        np.not_equal(action[1:], action[:-1], out=entering[1:])
    rows = np.flatnonzero(entering)
    bar = events.first[rows]
    direction = action[rows].astype(np.int64)
    entry_price = slipped(prices, direction, minutes.open[bar])
    entry_fee = size * entry_price * prices.rate
    if config.liquidation:
        level = (entry_price * (1 - direction * liquidation_reach(leverage)) * (1 + direction * 1e-6)
                 + direction * prices.tick)
        lowest, highest = _suffix_extremes(minutes.low, minutes.high, bar)
        if np.where(direction > 0, lowest <= level, highest >= level).any():
            return None
    closed = len(rows) - 1 if config.reverse else 0  # the last entry is never closed: nothing else ends a trade
    exit_bar = bar[1:closed + 1]
    exit_price = slipped(prices, -direction[:closed], minutes.open[exit_bar])
    exit_fee = size * exit_price * prices.rate
    gross = (exit_price - entry_price[:closed]) * size * direction[:closed]
    # Cash as the loop moves it, one fill after the other: the initial balance, then each entry's fee out and
    # each close's PnL less its fee in (a reversal closes first, then enters).
    moves = np.empty(1 + len(rows) + closed)
    moves[0] = float(config.initial_balance)
    moves[1::2] = -entry_fee
    moves[2::2] = gross - exit_fee
    cash = np.cumsum(moves)
    needed = size * entry_price / leverage + entry_fee
    if (needed > cash[0:2 * len(rows):2]).any():  # the paper exchange would refuse one: the loop decides what follows
        return None
    fee_moves = np.zeros(1 + len(rows) + closed)
    fee_moves[1::2], fee_moves[2::2] = entry_fee, exit_fee
    fees = float(np.cumsum(fee_moves)[-1])
    # A closed trade's totals add its (no) partial exits, as the loop adds them: x + 0.
    gross_total, exit_fee_total = gross + 0.0, exit_fee + 0.0
    pnl = gross_total - entry_fee[:closed] - exit_fee_total

    n = len(minutes)
    entry_bars = bar.astype(np.int64)
    exit_bars = np.append(exit_bar, n).astype(np.int64)
    signed = size * direction
    empty_int, empty = np.zeros(0, dtype=np.int64), np.zeros(0)
    # As ``engine._result`` lays them out: entry fees, then exits (the open trade's at the end, 0.0 - 0.0 - 0).
    exit_cash = np.append(gross_total - exit_fee_total, 0.0 - 0.0)
    curve, open_count = equity.curve(
        minutes.close, float(config.initial_balance), np.concatenate([entry_bars, exit_bars]),
        np.concatenate([-entry_fee, exit_cash]), entry_bars, exit_bars, signed, signed - 0.0, entry_price, empty_int,
        empty, empty)

    last = len(rows) - 1
    open_trade = SimTrade(side=fills.BUY if direction[last] > 0 else fills.SELL, direction=int(direction[last]),
                          qty=qty, size=size, signal_time=int(events.candle_time[rows[last]]),
                          entry_bar=int(bar[last]), entry_price=float(entry_price[last]),
                          entry_fee=float(entry_fee[last]), stop_loss=None, take_profit=None,
                          liq_scanned=int(bar[last]))
    final = float(cash[-1])
    final += (float(minutes.close[-1]) - open_trade.entry_price) * open_trade.remaining_size * open_trade.direction

    def build() -> list[SimTrade]:
        columns = (direction[:closed].tolist(), events.candle_time[rows[:closed]].tolist(), bar[:closed].tolist(),
                   entry_price[:closed].tolist(), entry_fee[:closed].tolist(), exit_bar.tolist(), exit_price.tolist(),
                   exit_fee_total.tolist(), gross_total.tolist(), pnl.tolist())
        return [SimTrade(side=fills.BUY if way > 0 else fills.SELL, direction=way, qty=qty, size=size,
                         signal_time=time, entry_bar=entered, entry_price=price, entry_fee=fee, stop_loss=None,
                         take_profit=None, exit_bar=left, exit_price=out, exit_fee=out_fee, exit_reason=REVERSE,
                         gross=made, pnl=net, liq_scanned=entered)
                for way, time, entered, price, fee, left, out, out_fee, made, net in zip(*columns, strict=True)]

    # Per event: entered, or the position (the last entry's) already held.
    holder = direction[np.cumsum(entering) - 1]
    outcomes = _OUTCOME[entering.view(np.int8)].tolist()
    details = _HELD_DETAIL[np.where(entering, 2, (holder > 0).view(np.int8))].tolist()
    if progress is not None:
        progress(1.0)
    return EngineResult(trades=LazyTrades(closed, build), open_trade=open_trade, equity=curve[trade_from:],
                        exposure=open_count[trade_from:] > 0, outcomes=outcomes, details=details,
                        final_equity=final, fees_paid=fees, trade_from=trade_from)
