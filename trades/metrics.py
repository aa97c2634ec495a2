"""Trading statistics as pure functions of closed trades' realized PnL (Decimal, in time order).

Shared by the stats API, the dashboard and the backtest report, so a figure means the same
everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

ZERO = Decimal("0")


@dataclass(frozen=True)
class Drawdown:
    value: Decimal  # largest peak-to-trough fall of cumulative PnL, as a positive amount
    peak_index: int | None
    trough_index: int | None


@dataclass(frozen=True)
class TradeStats:
    total_trades: int
    wins: int
    losses: int
    win_rate: Decimal | None  # percent
    total_pnl: Decimal
    average_pnl: Decimal | None  # also the expectancy: what one trade earns on average
    gross_profit: Decimal
    gross_loss: Decimal  # positive amount
    profit_factor: Decimal | None  # None when there is no losing trade to divide by
    max_drawdown: Decimal

    def as_dict(self) -> dict:
        return asdict(self)


def max_drawdown(pnls: Sequence[Decimal], starting_equity: Decimal = ZERO) -> Drawdown:
    """Peak-to-trough fall of the running equity ``starting_equity + cumulative PnL``."""
    equity = peak = starting_equity
    peak_index = None
    worst = Drawdown(ZERO, None, None)
    for index, pnl in enumerate(pnls):
        equity += pnl
        if equity > peak:
            peak, peak_index = equity, index
        fall = peak - equity
        if fall > worst.value:
            worst = Drawdown(fall, peak_index, index)
    return worst


def trade_stats(pnls: Sequence[Decimal]) -> TradeStats:
    wins = [pnl for pnl in pnls if pnl > 0]
    losses = [pnl for pnl in pnls if pnl < 0]
    total = sum(pnls, ZERO)
    gross_profit = sum(wins, ZERO)
    gross_loss = -sum(losses, ZERO)
    count = len(pnls)
    return TradeStats(
        total_trades=count,
        wins=len(wins),
        losses=len(losses),
        win_rate=_round(Decimal(len(wins)) * 100 / count) if count else None,
        total_pnl=total,
        average_pnl=_round(total / count) if count else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        profit_factor=_round(gross_profit / gross_loss) if gross_loss else None,
        max_drawdown=max_drawdown(pnls).value,
    )


def _round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"))
