"""The read commands' answers (/status, /balance, /profit, /daily, /trades, /performance, /strategies): the same
read side as the dashboard and the API (``trades.queries``, ``Trade.objects``), drawn for a phone."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from chat.replies import (
    Reply,
    bold,
    esc,
    local_time,
    money,
    pairs,
    percent,
    plain_money,
    side,
    size,
    table,
)
from exchange.base import Exchange
from strategies.models import Strategy
from trades import queries
from trades.models import Trade


def status(exchange: Exchange) -> Reply:
    state = queries.bot_status()
    zone = settings.BOT_TIMEZONE
    paused = len(state["paused_strategies"])
    lines = [
        f"{bold('Bot ' + state['state'])} \u00b7 {esc(state['exchange_mode'])}",
        f"{state['active_strategies']} active strateg{'y' if state['active_strategies'] == 1 else 'ies'}"
        + (f", {paused} paused" if paused else ""),
        "New entries: " + (f"<b>STOPPED</b> {esc(state['entries_stopped'])}" if state["entries_stopped"]
                           else "allowed"),
        f"Last cycle: {local_time(state['last_cycle_at'], zone)}"
        + (f" ({esc(state['last_cycle_status'])})" if state["last_cycle_status"] else ""),
    ]
    if state["last_error"]:
        lines.append(f"Last error: {esc(state['last_error'][:200])}")
    open_trades = queries.with_unrealized(Trade.objects.open().order_by("id"), exchange)
    if open_trades:
        lines.append(bold(f"Open trades ({len(open_trades)}), uPnL USDT"))
        lines.append(table(["#", "Symbol", "Side", "uPnL"],
                           [(trade.pk, trade.symbol, side(trade.side), money(trade.unrealized))
                            for trade in open_trades], right=(0, 3)))
    else:
        lines.append("No open trades.")
    pending = list(Trade.objects.pending().order_by("id"))
    if pending:
        lines.append(bold(f"Pending orders ({len(pending)})"))
        lines.append(table(["#", "Symbol", "Side", "Qty"],
                           [(trade.pk, trade.symbol, side(trade.side), size(trade.quantity)) for trade in pending],
                           right=(0, 3)))
    return Reply("\n".join(lines))


def balance(exchange: Exchange) -> Reply:
    account = exchange.get_balance()
    return Reply(bold(f"Balance ({account.coin}, {settings.EXCHANGE_MODE})") + "\n" + pairs([
        ("Equity", plain_money(account.equity)),
        ("Wallet", plain_money(account.wallet_balance)),
        ("Available", plain_money(account.available)),
        ("Unrealized PnL", money(account.unrealized_pnl)),
        ("Used margin", plain_money(account.used_margin)),
    ]))


def profit(days: int | None) -> Reply:
    trades = Trade.objects.all()
    if days is not None:
        trades = trades.filter(closed_at__gte=timezone.now() - timedelta(days=days))
    figures = queries.stats(trades)
    heading = "Profit, all time" if days is None else f"Profit, last {days} day{'s' if days != 1 else ''}"
    if not figures["total_trades"]:
        return Reply(f"{bold(heading)}\nNo closed trades.")
    return Reply(bold(heading + " (USDT)") + "\n" + pairs([
        ("Closed trades", figures["total_trades"]),
        ("Win rate", percent(figures["win_rate"])),
        ("Total PnL", money(figures["total_pnl"])),
        ("Avg per trade", money(figures["average_pnl"])),
        ("Profit factor", plain_money(figures["profit_factor"])),
        ("Max drawdown", plain_money(figures["max_drawdown"])),
        ("Fees", plain_money(figures["fees_paid"])),
        ("Open now", Trade.objects.open().count()),
    ]))


def daily(days: int) -> Reply:
    zone = ZoneInfo(settings.BOT_TIMEZONE)
    today = timezone.now().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    rows = {row["day"]: row for row in (
        Trade.objects.closed().filter(closed_at__date__gte=first - timedelta(days=1))
        .annotate(day=TruncDate("closed_at", tzinfo=zone)).values("day")
        .annotate(count=Count("id"), pnl=Sum("realized_pnl")))}
    lines = []
    for offset in range(days):
        day = today - timedelta(days=offset)
        row = rows.get(day, {"count": 0, "pnl": None})
        lines.append((f"{day:%m-%d %a}", row["count"], money(row["pnl"]) if row["count"] else "0.00"))
    total = sum((row["pnl"] for day, row in rows.items() if day >= first), start=0)
    return Reply(bold(f"Daily realized PnL, USDT ({settings.BOT_TIMEZONE})") + "\n"
                 + table(["Day", "Trades", "PnL"], lines, right=(1, 2)) + f"\nTotal: {money(total)} USDT")


def recent_trades(count: int) -> Reply:
    closed = list(Trade.objects.closed().order_by("-closed_at", "-id")[:count])
    if not closed:
        return Reply("No closed trades yet.")
    return Reply(bold(f"Last {len(closed)} closed trade{'s' if len(closed) != 1 else ''}, PnL USDT") + "\n"
                 + table(["#", "Symbol", "Side", "PnL"],
                         [(trade.pk, trade.symbol, side(trade.side), money(trade.realized_pnl)) for trade in closed],
                         right=(0, 3)))


def performance() -> Reply:
    by_symbol = sorted(queries.stats()["by_symbol"], key=lambda row: row["total_pnl"], reverse=True)
    if not by_symbol:
        return Reply("No closed trades yet.")
    return Reply(bold("Performance per symbol, PnL USDT") + "\n"
                 + table(["Symbol", "Trades", "Win", "PnL"],
                         [(row["key"], row["total_trades"], percent(row["win_rate"]).replace(".00", ""),
                           money(row["total_pnl"])) for row in by_symbol], right=(1, 2, 3)))


def strategies() -> Reply:
    now = timezone.now()
    rows = [(strategy.pk, strategy.name, _state(strategy, now)) for strategy in Strategy.objects.order_by("pk")]
    if not rows:
        return Reply("No strategies yet.")
    return Reply(bold("Strategies") + "\n" + table(["#", "Name", "State"], rows, right=(0,))
                 + "\n/pause or /resume with a # or a name.")


def _state(strategy: Strategy, now) -> str:
    if not strategy.is_active:
        return "off"
    return "paused" if strategy.is_paused(now) else "on"
