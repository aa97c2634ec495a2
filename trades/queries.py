"""Read side of trades: what the API, the dashboard and the commands show. No writes here."""

from __future__ import annotations

import logging
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from market.errors import ExchangeError
from strategies.models import Strategy
from trades.metrics import trade_stats
from trades.models import CycleRun, Decision, EntrySwitch, Trade, TradeStatus

logger = logging.getLogger(__name__)


def with_unrealized(trades, exchange) -> list:
    """``trades`` (a page of them) with ``unrealized`` set on the open ones, from the exchange's mark prices
    (one positions call); left None when the exchange cannot say."""
    trades = list(trades)
    if not any(trade.status == "open" for trade in trades):
        return trades
    try:
        marks = {position.symbol: position.mark_price for position in exchange.get_positions()}
    except ExchangeError as error:
        logger.warning("mark prices unavailable for open trades: %s", error)
        marks = {}
    for trade in trades:
        trade.unrealized = trade.unrealized_pnl(marks.get(trade.symbol))
    return trades


def stats(trades: QuerySet[Trade] | None = None) -> dict:
    """Totals over closed trades (PnL in closing order), with per-symbol and per-strategy breakdowns."""
    trades = Trade.objects.all() if trades is None else trades
    closed = list(trades.closed()
                  .order_by("closed_at", "id").values_list("symbol", "strategy__name", "realized_pnl"))
    counts = trades.aggregate(open=Count("id", filter=Q(status=TradeStatus.OPEN)),
                              pending=Count("id", filter=Q(status=TradeStatus.PENDING)),
                              failed=Count("id", filter=Q(status=TradeStatus.FAILED)),
                              fees=Sum("fees", filter=Q(status__in=[TradeStatus.OPEN, TradeStatus.CLOSED])))
    by_symbol, by_strategy = defaultdict(list), defaultdict(list)
    for symbol, strategy_name, pnl in closed:
        by_symbol[symbol].append(pnl)
        by_strategy[strategy_name or "manual"].append(pnl)
    summary = trade_stats([pnl for _, _, pnl in closed]).as_dict()
    summary.update(
        open_trades=counts["open"], pending_trades=counts["pending"], failed_trades=counts["failed"],
        fees_paid=counts["fees"] or Decimal("0"),
        by_symbol=[_breakdown(key, pnls) for key, pnls in sorted(by_symbol.items())],
        by_strategy=[_breakdown(key, pnls) for key, pnls in sorted(by_strategy.items())],
    )
    return summary


def _breakdown(key: str, pnls: list[Decimal]) -> dict:
    values = trade_stats(pnls).as_dict()
    values.pop("gross_profit")
    values.pop("gross_loss")
    return {"key": key, **values}


def equity_curve(starting_equity: Decimal | None = None) -> list[dict]:
    """Cumulative realized PnL after each closed trade (and the equity, if a start is given)."""
    points, total = [], Decimal("0")
    for closed_at, pnl in (Trade.objects.closed()
                           .order_by("closed_at", "id").values_list("closed_at", "realized_pnl")):
        total += pnl
        point = {"time": closed_at, "cumulative_pnl": total}
        if starting_equity is not None:
            point["equity"] = starting_equity + total
        points.append(point)
    return points


def latest_decisions(strategy_ids=None) -> list[Decision]:
    """The newest decision for every strategy x symbol pair (one indexed lookup per row)."""
    newest = (Decision.objects.filter(strategy_id=OuterRef("strategy_id"), symbol=OuterRef("symbol"))
              .order_by("-created_at").values("id")[:1])
    decisions = Decision.objects.filter(id=Subquery(newest)).select_related("strategy", "trade")
    if strategy_ids is not None:
        decisions = decisions.filter(strategy_id__in=strategy_ids)
    return list(decisions.order_by("strategy__name", "symbol"))


def last_cycle() -> CycleRun | None:
    return CycleRun.objects.order_by("-started_at").first()


def bot_status() -> dict:
    """What the dashboard's status line shows: is the bot trading, when did it last run, what went wrong."""
    now = timezone.now()
    run = last_cycle()
    active = Strategy.objects.filter(is_active=True).only("id", "name", "paused_until", "pause_reason")
    paused = [{"id": s.pk, "name": s.name, "until": s.paused_until, "reason": s.pause_reason}
              for s in active.paused(now)]
    return {
        "state": "idle" if not active else ("paused" if len(paused) == len(active) else "running"),
        "active_strategies": len(active),
        "paused_strategies": paused,
        "entries_stopped": EntrySwitch.stopped_reason(),  # /stopentry: why no new entries, or None
        "exchange_mode": settings.EXCHANGE_MODE,
        "last_cycle_at": (run.finished_at or run.started_at) if run else None,
        "last_cycle_status": run.status if run else None,
        "last_error": run.error if run else "",
    }
