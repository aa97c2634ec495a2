"""The daily-loss limit: a strategy that lost its share of equity today stops entering until tomorrow."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Sum

from core.notifications import notify
from trades.models import Trade, TradeStatus
from trades.risk import daily_loss_breached

logger = logging.getLogger(__name__)


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Start of today and of tomorrow in BOT_TIMEZONE, as aware datetimes."""
    zone = ZoneInfo(settings.BOT_TIMEZONE)
    local = now.astimezone(zone)
    start = datetime.combine(local.date(), time.min, tzinfo=zone)
    return start, datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=zone)


def realized_today(strategy, now: datetime) -> Decimal:
    start, _ = day_bounds(now)
    total = Trade.objects.filter(strategy=strategy, status=TradeStatus.CLOSED, closed_at__gte=start).aggregate(
        total=Sum("realized_pnl"))["total"]
    return total or Decimal("0")


def check_daily_loss(strategy, *, now: datetime, equity: Decimal) -> bool:
    """Pause ``strategy`` until tomorrow (and say so) if today's realized loss breached its limit."""
    limit = strategy.max_daily_loss_percentage
    if limit is None:
        return False
    realized = realized_today(strategy, now)
    if not daily_loss_breached(realized, equity, limit):
        return False
    _, tomorrow = day_bounds(now)
    strategy.paused_until = tomorrow
    strategy.pause_reason = (f"daily loss limit reached: {realized:.2f} USDT realized today is beyond {limit}% of "
                             f"equity ({equity:.2f} USDT); no new entries until {tomorrow:%Y-%m-%d %H:%M %Z}")
    strategy.save(update_fields=["paused_until", "pause_reason", "updated_at"])
    logger.warning("strategy paused", extra={"strategy": strategy.name, "reason": strategy.pause_reason})
    notify.strategy_paused(strategy, strategy.pause_reason)
    return True
