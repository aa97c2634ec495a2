"""The money of a backtest in Decimal: every fill of the engine's trades replayed through ``market.fills``.

The engine decides in floats (fast); what is stored and shown comes from here, computed exactly as the
paper exchange computes it: the market price slipped and rounded to the tick (``slipped_price``), the
taker fee rounded to the 8 places the database keeps (``fee``), the trigger of a stop-loss or
take-profit (``stop_or_take_profit``) and the PnL of a close net of both fees (``apply_fill``).
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
    exit_fee: Decimal
    exit_reason: str  # stop_loss, take_profit, reverse, or "open"
    gross: Decimal  # price PnL before fees
    pnl: Decimal  # net of the opening and closing fees

    def as_dict(self) -> dict:
        def text(value):
            return None if value is None else str(value)

        return {"side": self.side, "qty": str(self.qty), "signal_time": self.signal_time.isoformat(),
                "entry_time": self.entry_time.isoformat(), "entry_price": str(self.entry_price),
                "entry_fee": str(self.entry_fee), "stop_loss": text(self.stop_loss),
                "take_profit": text(self.take_profit),
                "exit_time": self.exit_time.isoformat() if self.exit_time else None,
                "exit_price": text(self.exit_price), "exit_fee": str(self.exit_fee), "exit_reason": self.exit_reason,
                "gross": str(self.gross), "pnl": str(self.pnl)}


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
        values = {"side": trade.side, "qty": trade.qty, "signal_time": _time(trade.signal_time),
                  "entry_time": _time(minutes.start[trade.entry_bar]), "entry_price": entry, "entry_fee": entry_fee,
                  "stop_loss": trade.stop_loss, "take_profit": trade.take_profit}
        if trade.exit_bar < 0:
            mark = dec(minutes.close[-1])
            open_trade = LedgerTrade(**values, exit_time=None, exit_price=None, exit_fee=ZERO, exit_reason="open",
                                     gross=fills.unrealized_pnl(trade.side, trade.qty, entry, mark), pnl=ZERO)
            continue
        closing = fills.opposite(trade.side)
        exit_price = fills.slipped_price(closing, _exit_base(trade, minutes), slippage, tick)
        exit_fee = fills.fee(trade.qty, exit_price, rate)
        outcome = fills.apply_fill(fills.PositionState(trade.side, trade.qty, entry, entry_fee), closing, trade.qty,
                                   exit_price, exit_fee)
        cash, paid = cash + outcome.cash_change, paid + exit_fee
        closed.append(LedgerTrade(**values, exit_time=_time(minutes.start[trade.exit_bar]), exit_price=exit_price,
                                  exit_fee=exit_fee, exit_reason=trade.exit_reason, gross=outcome.realized_gross,
                                  pnl=outcome.closed_pnl))
    final = cash + (open_trade.gross if open_trade else ZERO)
    return Ledger(trades=closed, open_trade=open_trade, cash=cash, final_equity=final, fees_paid=paid)


def _exit_base(trade: SimTrade, minutes: Minutes) -> Decimal:
    """Where the closing market order starts, before slippage: the trigger's price, or the open on a reversal."""
    bar = trade.exit_bar
    if trade.exit_reason == "reverse":
        return dec(minutes.open[bar])
    trigger = fills.stop_or_take_profit(trade.side, trade.stop_loss, trade.take_profit, dec(minutes.open[bar]),
                                        dec(minutes.high[bar]), dec(minutes.low[bar]))
    if trigger is None or trigger.kind != trade.exit_reason:
        raise LedgerMismatch(f"candle {bar}: the engine saw {trade.exit_reason}, the fill model "
                             f"{trigger.kind if trigger else 'nothing'}")
    return trigger.price


def _time(ns) -> datetime:
    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime()
