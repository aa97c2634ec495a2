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

from market import fills
from trades.backtest.engine import EngineConfig, EngineResult, Minutes, SimTrade, dec

ZERO = Decimal("0")


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
                "parts": [part.as_dict() for part in self.parts]}


@dataclass(frozen=True)
class Ledger:
    trades: list[LedgerTrade]  # closed
    open_trade: LedgerTrade | None  # marked to market at the last close, no exit fee
    cash: Decimal
    final_equity: Decimal
    fees_paid: Decimal


def replay_ledger(result: EngineResult, minutes: Minutes, config: EngineConfig) -> Ledger:
    slippage, rate, tick = Decimal(config.slippage_bps), Decimal(config.fee_rate), config.rules.tick_size
    cash, paid = Decimal(config.initial_balance), ZERO
    closed: list[LedgerTrade] = []
    open_trade = None
    for trade in [*result.trades, *([result.open_trade] if result.open_trade else [])]:
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
                  "stop_loss": trade.stop_loss, "take_profit": trade.take_profit, "parts": tuple(parts)}
        parts_fee = sum((part.fee for part in parts), ZERO)
        parts_pnl = sum((part.pnl for part in parts), ZERO)
        if trade.exit_bar < 0:
            mark = dec(minutes.close[-1])
            open_trade = LedgerTrade(**values, exit_time=None, exit_price=None, exit_fee=parts_fee, exit_reason="open",
                                     gross=fills.unrealized_pnl(trade.side, position.size, entry, mark), pnl=parts_pnl)
            continue
        exit_price = fills.slipped_price(closing, _exit_base(trade, minutes), slippage, tick)
        exit_fee = fills.fee(position.size, exit_price, rate)
        outcome = fills.apply_fill(position, closing, position.size, exit_price, exit_fee)
        cash, paid = cash + outcome.cash_change, paid + exit_fee
        closed.append(LedgerTrade(**values, exit_time=_time(minutes.start[trade.exit_bar]), exit_price=exit_price,
                                  exit_fee=parts_fee + exit_fee, exit_reason=trade.exit_reason, exit_tag=trade.exit_tag,
                                  gross=part_gross + outcome.realized_gross, pnl=parts_pnl + outcome.closed_pnl))
    final = cash + (open_trade.gross if open_trade else ZERO)
    return Ledger(trades=closed, open_trade=open_trade, cash=cash, final_equity=final, fees_paid=paid)


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
