"""Where a backtest's money came from: its closed trades grouped by symbol, by exit reason (and tag), by month.

Each table sums to the run's totals (a test holds it): every closed trade falls in exactly one row of each,
and the funding column counts the open trade's too, so the funding rows add up to the run's funding.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from trades.backtest.ledger import Ledger, LedgerTrade

ZERO = Decimal("0")


def breakdowns(ledger: Ledger, symbol: str) -> dict:
    """{"symbol": rows, "exit": rows, "month": rows}; each row {"key", "trades", "wins", "pnl", "funding", "fees"}
    with money as strings. ``symbol``: the run's, for trades that do not name theirs (a one-symbol run)."""
    closed = ledger.trades
    return {
        "symbol": _rows(closed, ledger.open_trades, lambda trade: trade.symbol or symbol),
        "exit": _rows(closed, None, _exit_key),
        "month": _rows(closed, None, lambda trade: f"{trade.exit_time:%Y-%m}"),
    }


def _exit_key(trade: LedgerTrade) -> str:
    return f"{trade.exit_reason} ({trade.exit_tag})" if trade.exit_tag else trade.exit_reason


def _rows(closed: list[LedgerTrade], still_open: list[LedgerTrade] | None, key) -> list[dict]:
    groups: dict[str, dict] = defaultdict(lambda: {"trades": 0, "wins": 0, "pnl": ZERO, "funding": ZERO,
                                                   "fees": ZERO})
    for trade in closed:
        row = groups[key(trade)]
        row["trades"] += 1
        row["wins"] += trade.pnl > 0
        row["pnl"] += trade.pnl
        row["funding"] += trade.funding
        row["fees"] += trade.entry_fee + trade.exit_fee
    for trade in still_open or []:
        if trade.funding:
            groups[key(trade)]["funding"] += trade.funding
    return [{"key": name, "trades": row["trades"], "wins": row["wins"], "pnl": str(row["pnl"]),
             "funding": str(row["funding"]), "fees": str(row["fees"])} for name, row in sorted(groups.items())]
