"""The words of each notification: pure functions from trades and numbers to a ``Message``.

Nothing here touches the database or the network, so every message can be checked in a test by
reading it. Plain text only: Telegram gets it without a parse mode, so an AI's reasoning full of
``*`` or ``_`` cannot break the formatting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from core.logs import redact

REASONING_LIMIT = 200


@dataclass(frozen=True)
class Message:
    event: str
    title: str
    body: str


@dataclass(frozen=True)
class DailyStats:
    day: date
    window_start: datetime
    window_end: datetime
    opened: int
    closed: int
    wins: int
    realized_pnl: Decimal
    fees: Decimal
    ai_cost: Decimal
    open_positions: tuple[str, ...]  # one line per open trade, already described

    @property
    def win_rate(self) -> Decimal | None:
        if not self.closed:
            return None
        return (Decimal(self.wins) * 100 / Decimal(self.closed)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def trade_opened(trade) -> Message:
    side = _side(trade.side)
    title = f"Opened {side} {trade.symbol}"
    lines = [
        f"Strategy: {_strategy_name(trade)}",
        f"Size: {number(trade.quantity)} {trade.symbol} at {number(trade.price)}"
        + (f" ({usdt(trade.quantity * trade.price)} notional)" if trade.price else ""),
        f"Stop-loss: {number(trade.stop_loss)}  Take-profit: {number(trade.take_profit)}",
    ]
    if trade.confidence is not None:
        lines.append(f"AI confidence: {trade.confidence}%")
    if trade.reasoning:
        lines.append(f"Reasoning: {one_line(trade.reasoning)}")
    lines.append(f"Order: {trade.order_link_id}")
    return Message("trade_opened", title, "\n".join(lines))


def trade_closed(trade) -> Message:
    pnl = trade.realized_pnl
    title = f"Closed {_side(trade.side)} {trade.symbol}: {signed_usdt(pnl)}"
    lines = [
        f"Strategy: {_strategy_name(trade)}",
        f"Size: {number(trade.quantity)} {trade.symbol}",
        f"Entry: {number(trade.price)}  Exit: {number(trade.exit_price)}",
        f"Realized PnL: {signed_usdt(pnl)} after {usdt(trade.fees)} fees" + _return_on_entry(trade),
    ]
    opened_at = trade.executed_at or trade.created_at
    if opened_at and trade.closed_at:
        lines.append(f"Duration: {duration(trade.closed_at - opened_at)}")
    lines.append(f"Order: {trade.order_link_id}")
    return Message("trade_closed", title, "\n".join(lines))


def strategy_paused(strategy, reason: str, *, local_until: datetime | None) -> Message:
    until = f" until {local_until:%Y-%m-%d %H:%M %Z}" if local_until else ""
    body = f"Reason: {one_line(reason, limit=500)}\nNo new entries{until}; open positions keep their stop-loss."
    return Message("strategy_paused", f"Strategy {strategy.name} paused", body)


def repeated_error(kind: str, message: str, *, muted_minutes: int) -> Message:
    body = (f"{one_line(message, limit=1000)}\n"
            f"Further {kind} errors are not sent for {muted_minutes} minutes; the log has every one.")
    return Message("errors", f"Repeated errors: {kind}", body)


def reconciliation(findings: list[str]) -> Message:
    title = f"Reconciliation found {len(findings)} unexpected thing{'s' if len(findings) != 1 else ''}"
    return Message("reconciliation", title, "\n".join(f"- {one_line(finding, limit=500)}" for finding in findings))


def daily_summary(stats: DailyStats, *, zone_name: str) -> Message:
    win_rate = f"{stats.win_rate}%" if stats.win_rate is not None else "n/a (nothing closed)"
    lines = [
        f"Period: {stats.window_start:%Y-%m-%d %H:%M} to {stats.window_end:%Y-%m-%d %H:%M} ({zone_name})",
        f"Realized PnL: {signed_usdt(stats.realized_pnl)} (fees {usdt(stats.fees)})",
        f"Trades: {stats.opened} opened, {stats.closed} closed",
        f"Win rate: {win_rate}" + (f" ({stats.wins} of {stats.closed})" if stats.closed else ""),
        f"AI cost: {stats.ai_cost.quantize(Decimal('0.0001'), ROUND_HALF_UP)} USD",
        f"Open positions: {len(stats.open_positions)}",
        *(f"- {line}" for line in stats.open_positions),
    ]
    return Message("daily_summary", f"Daily summary {stats.day:%Y-%m-%d}: {signed_usdt(stats.realized_pnl)}",
                   "\n".join(lines))


def check_message(hostname: str) -> Message:
    return Message("test", "Test notification", f"tradebot on {hostname} can reach this channel.")


def open_position_line(trade) -> str:
    return (f"{_side(trade.side)} {number(trade.quantity)} {trade.symbol} at {number(trade.price)}, "
            f"SL {number(trade.stop_loss)}, TP {number(trade.take_profit)}")


# Formatting helpers -----------------------------------------------------------------------------------

def number(value: Decimal | None) -> str:
    """A price or quantity without the database's trailing zeros (65000.50000000 -> 65000.5)."""
    if value is None:
        return "-"
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in {"-0", ""} else text


def usdt(value: Decimal | None) -> str:
    if value is None:
        return "- USDT"
    return f"{Decimal(value).quantize(Decimal('0.01'), ROUND_HALF_UP)} USDT"


def signed_usdt(value: Decimal | None) -> str:
    if value is None:
        return "PnL unknown"
    amount = Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"{'+' if amount > 0 else ''}{amount} USDT"


def one_line(text: str, *, limit: int = REASONING_LIMIT) -> str:
    """Whitespace collapsed, secrets masked, cut at ``limit`` characters with an ellipsis."""
    flat = redact(re.sub(r"\s+", " ", text or "").strip())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def duration(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def _return_on_entry(trade) -> str:
    if trade.realized_pnl is None or not trade.price or not trade.quantity:
        return ""
    percent = (trade.realized_pnl / (trade.price * trade.quantity) * 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f" ({'+' if percent > 0 else ''}{percent}% of entry value)"


def _side(side: str) -> str:
    return {"Buy": "long", "Sell": "short"}.get(side, side)


def _strategy_name(trade) -> str:
    return trade.strategy.name if trade.strategy_id else "manual"
