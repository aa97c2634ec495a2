"""The money of a backtest in Decimal: every fill of the engine's trades replayed through ``market.fills``.

The engine decides in floats (fast); what is stored and shown comes from here, computed exactly as the
paper exchange computes it: the market price slipped and rounded to the tick (``slipped_price``), the
taker fee rounded to the 8 places the database keeps (``fee``), the trigger of a stop-loss or
take-profit (``stop_or_take_profit``) and the PnL of a close net of both fees (``apply_fill``). A trade with
extra exits (``market.exits``) was already walked in Decimal by the engine: its parts and last close are replayed
from the prices that walk found, each through ``apply_fill`` like any other fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd

from market import fills, funding, liquidation
from trades.backtest.engine import EngineConfig, EngineResult, Minutes, SimTrade, dec
from trades.backtest.perpetual import FundingSchedule

ZERO = Decimal("0")
NO_FUNDING = "funding not simulated"


class LedgerMismatch(AssertionError):
    """The Decimal fill model disagrees with the engine about a trigger: a bug, never a market event."""


@dataclass(frozen=True)
class LedgerPart:
    """A part of a trade closed before the rest (a partial take-profit)."""

    time: datetime
    qty: Decimal
    price: Decimal
    fee: Decimal
    reason: str
    pnl: Decimal  # net of this part's share of the opening fee and of its own fee

    def as_dict(self) -> dict:
        return {"time": self.time.isoformat(), "qty": str(self.qty), "price": str(self.price), "fee": str(self.fee),
                "reason": self.reason, "pnl": str(self.pnl)}


@dataclass(frozen=True)
class LedgerTrade:
    side: str
    qty: Decimal
    signal_time: datetime  # open time of the signal candle
    entry_time: datetime  # open time of the 1-minute candle it filled at
    entry_price: Decimal
    entry_fee: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    exit_time: datetime | None  # None while open
    exit_price: Decimal | None
    exit_fee: Decimal  # of every close, the parts' included
    exit_reason: str  # stop_loss, take_profit, reverse, one of market.exits' kinds, or "open"
    gross: Decimal  # price PnL before fees (of what is closed; of what is held, for the open trade)
    pnl: Decimal  # net of the opening and closing fees
    parts: tuple[LedgerPart, ...] = ()  # closed before the rest, in order
    exit_tag: str = ""  # the exit signal's tag or custom_exit's reason
    funding: Decimal = ZERO  # received (negative: paid) at the funding times it was held at; not in pnl
    symbol: str = ""  # in a portfolio run

    def as_dict(self) -> dict:
        def text(value):
            return None if value is None else str(value)

        return {"side": self.side, "qty": str(self.qty), "signal_time": self.signal_time.isoformat(),
                "entry_time": self.entry_time.isoformat(), "entry_price": str(self.entry_price),
                "entry_fee": str(self.entry_fee), "stop_loss": text(self.stop_loss),
                "take_profit": text(self.take_profit),
                "exit_time": self.exit_time.isoformat() if self.exit_time else None,
                "exit_price": text(self.exit_price), "exit_fee": str(self.exit_fee), "exit_reason": self.exit_reason,
                "exit_tag": self.exit_tag, "gross": str(self.gross), "pnl": str(self.pnl),
                "funding": str(self.funding), "parts": [part.as_dict() for part in self.parts],
                **({"symbol": self.symbol} if self.symbol else {})}


@dataclass(frozen=True)
class Ledger:
    trades: list[LedgerTrade]  # closed
    open_trade: LedgerTrade | None  # marked to market at the last close, no exit fee
    cash: Decimal
    final_equity: Decimal
    fees_paid: Decimal
    funding: Decimal = ZERO  # every trade's, the open one's included
    funding_note: str = ""  # market.funding.ASSUMED_NOTE when some rate was assumed; NO_FUNDING when it was off
    more_open: tuple[LedgerTrade, ...] = ()  # a portfolio's other open trades (one per symbol at most)

    @property
    def open_trades(self) -> list[LedgerTrade]:
        return [self.open_trade, *self.more_open] if self.open_trade is not None else []


def replay_ledger(result: EngineResult, minutes: Minutes, config: EngineConfig) -> Ledger:
    slippage, rate, tick = Decimal(config.slippage_bps), Decimal(config.fee_rate), config.rules.tick_size
    cash, paid, funded = Decimal(config.initial_balance), ZERO, ZERO
    closed: list[LedgerTrade] = []
    open_trade = None
    for trade in [*result.trades, *([result.open_trade] if result.open_trade else [])]:
        received = funding_of(trade, minutes, config.funding)
        cash, funded = cash + received, funded + received
        entry = fills.slipped_price(trade.side, dec(minutes.open[trade.entry_bar]), slippage, tick)
        entry_fee = fills.fee(trade.qty, entry, rate)
        cash, paid = cash - entry_fee, paid + entry_fee
        closing = fills.opposite(trade.side)
        position = fills.PositionState(trade.side, trade.qty, entry, entry_fee)
        parts, part_gross = [], ZERO
        for part in trade.partials:
            price = fills.slipped_price(closing, part.base, slippage, tick)
            outcome = fills.apply_fill(position, closing, part.qty, price, fills.fee(part.qty, price, rate))
            position, cash, paid = outcome.position, cash + outcome.cash_change, paid + outcome.fee
            part_gross += outcome.realized_gross
            parts.append(LedgerPart(time=_time(minutes.start[part.bar]), qty=part.qty, price=price, fee=outcome.fee,
                                    reason=part.reason, pnl=outcome.closed_pnl))
        values = {"side": trade.side, "qty": trade.qty, "signal_time": _time(trade.signal_time),
                  "entry_time": _time(minutes.start[trade.entry_bar]), "entry_price": entry, "entry_fee": entry_fee,
                  "stop_loss": trade.stop_loss, "take_profit": trade.take_profit, "parts": tuple(parts),
                  "funding": received}
        parts_fee = sum((part.fee for part in parts), ZERO)
        parts_pnl = sum((part.pnl for part in parts), ZERO)
        if trade.exit_bar < 0:
            mark = dec(minutes.close[-1])
            open_trade = LedgerTrade(**values, exit_time=None, exit_price=None, exit_fee=parts_fee, exit_reason="open",
                                     gross=fills.unrealized_pnl(trade.side, position.size, entry, mark), pnl=parts_pnl)
            continue
        exit_price = _exit_base(trade, minutes)
        if trade.exit_reason != liquidation.LIQUIDATION:  # the liquidation engine takes it at its price
            exit_price = fills.slipped_price(closing, exit_price, slippage, tick)
        exit_fee = fills.fee(position.size, exit_price, rate)
        outcome = fills.apply_fill(position, closing, position.size, exit_price, exit_fee)
        cash, paid = cash + outcome.cash_change, paid + exit_fee
        closed.append(LedgerTrade(**values, exit_time=_time(minutes.start[trade.exit_bar]), exit_price=exit_price,
                                  exit_fee=parts_fee + exit_fee, exit_reason=trade.exit_reason, exit_tag=trade.exit_tag,
                                  gross=part_gross + outcome.realized_gross, pnl=parts_pnl + outcome.closed_pnl))
    final = cash + (open_trade.gross if open_trade else ZERO)
    return Ledger(trades=closed, open_trade=open_trade, cash=cash, final_equity=final, fees_paid=paid,
                  funding=funded, funding_note=config.funding.note if config.funding is not None else NO_FUNDING)


def funding_of(trade: SimTrade, minutes: Minutes, schedule: FundingSchedule | None) -> Decimal:
    """The trade's funding in Decimal (``market.funding.payment`` per time held, on what was still held then),
    as the paper exchange books it."""
    if schedule is None:
        return ZERO
    exit_bar = trade.exit_bar if trade.exit_bar >= 0 else len(minutes) - 1
    held = schedule.held(trade.entry_bar, exit_bar)
    total = ZERO
    for bar, rate in zip(schedule.bar[held].tolist(), schedule.rates[held], strict=True):
        size = trade.qty - sum((part.qty for part in trade.partials if part.bar < bar), ZERO)
        total += funding.payment(trade.side, size, dec(minutes.close[bar - 1]), rate)
    return total


def _exit_base(trade: SimTrade, minutes: Minutes) -> Decimal:
    """Where the closing market order starts, before slippage: the trigger's price, or the open on a reversal."""
    bar = trade.exit_bar
    if trade.exit_reason == "reverse":
        return dec(minutes.open[bar])
    if trade.exit_base is not None:  # walked in Decimal by market.exits: that walk's price
        return trade.exit_base
    trigger = fills.stop_or_take_profit(trade.side, trade.stop_loss, trade.take_profit, dec(minutes.open[bar]),
                                        dec(minutes.high[bar]), dec(minutes.low[bar]))
    if trigger is None or trigger.kind != trade.exit_reason:
        raise LedgerMismatch(f"candle {bar}: the engine saw {trade.exit_reason}, the fill model "
                             f"{trigger.kind if trigger else 'nothing'}")
    return trigger.price


def _time(ns) -> datetime:
    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime()
