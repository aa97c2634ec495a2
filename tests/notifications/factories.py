"""Trades in the states the notifications report on."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from trades.models import Trade, TradeStatus

OPENED_AT = datetime(2026, 4, 10, 9, 15, tzinfo=UTC)


def close(trade: Trade, *, exit_price="66300", pnl="12.28", fees="0.72", after=timedelta(hours=2, minutes=5)):
    trade.status = TradeStatus.CLOSED
    trade.exit_price = Decimal(exit_price)
    trade.realized_pnl = Decimal(pnl)
    trade.fees = Decimal(fees)
    trade.closed_at = (trade.executed_at or OPENED_AT) + after
    trade.save()
    return trade
