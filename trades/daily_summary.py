"""The daily summary: which 24 hours it covers, what happened in them, and sending it once per day.

Beat runs the task every hour on the hour. The first run at or after DAILY_SUMMARY_HOUR (in
BOT_TIMEZONE) claims the day with a unique row and sends; any later run that day, a second beat or a
task redelivered after a worker restart finds the claim and does nothing. The window is the 24 hours
before the summary hour, whenever the run actually happens, so consecutive summaries neither overlap
nor leave a gap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum

from ai.usage import cost_between
from core.notifications import messages, notify
from core.notifications.models import DailySummary, Event
from core.notifications.transports import channels_for
from trades.models import Trade, TradeStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    day: date
    start: datetime
    end: datetime


def due_window(now: datetime, *, hour: int, zone: ZoneInfo) -> Window | None:
    """The summary due at ``now``: today's, once the local hour has reached ``hour``; else None."""
    local = now.astimezone(zone)
    if local.hour < hour:
        return None
    today = local.date()
    return Window(day=today, start=datetime.combine(today - timedelta(days=1), time(hour), tzinfo=zone),
                  end=datetime.combine(today, time(hour), tzinfo=zone))


def collect(window: Window) -> messages.DailyStats:
    closed = Trade.objects.filter(status=TradeStatus.CLOSED, closed_at__gte=window.start, closed_at__lt=window.end)
    totals = closed.aggregate(count=Count("id"), wins=Count("id", filter=Q(realized_pnl__gt=0)),
                              pnl=Sum("realized_pnl"), fees=Sum("fees"))
    opened = Trade.objects.filter(executed_at__gte=window.start, executed_at__lt=window.end,
                                  status__in=[TradeStatus.OPEN, TradeStatus.CLOSED]).count()
    open_trades = Trade.objects.open().order_by("symbol")
    return messages.DailyStats(
        day=window.day, window_start=window.start, window_end=window.end, opened=opened, closed=totals["count"],
        wins=totals["wins"], realized_pnl=totals["pnl"] or Decimal("0"), fees=totals["fees"] or Decimal("0"),
        ai_cost=cost_between(window.start, window.end),
        open_positions=tuple(messages.open_position_line(trade) for trade in open_trades))


def send_if_due(now: datetime) -> str:
    """Send the summary due at ``now`` unless it was already sent; returns what it did, for the log."""
    zone = ZoneInfo(settings.BOT_TIMEZONE)
    window = due_window(now, hour=settings.DAILY_SUMMARY_HOUR, zone=zone)
    if window is None:
        return "not due yet"
    if not channels_for(Event.DAILY_SUMMARY):
        return "no channel sends the daily summary"
    with transaction.atomic():
        _, claimed = DailySummary.objects.get_or_create(
            day=window.day, defaults={"window_start": window.start, "window_end": window.end})
        if not claimed:
            return "already sent"
        message = messages.daily_summary(collect(window), zone_name=settings.BOT_TIMEZONE)
        notify.dispatch(message, context={"day": window.day.isoformat()})
    logger.info("daily summary queued", extra={"day": window.day.isoformat()})
    return "sent"
