"""What the AI cost: read by the dashboard, the daily summary and the backtest's estimate."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Sum

from ai.models import AICall


def usage_between(start: datetime, end: datetime) -> dict:
    totals = AICall.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
        calls=Count("id"), prompt_tokens=Sum("prompt_tokens"), completion_tokens=Sum("completion_tokens"),
        cost_usd=Sum("cost_usd"))
    return {
        "calls": totals["calls"],
        "prompt_tokens": totals["prompt_tokens"] or 0,
        "completion_tokens": totals["completion_tokens"] or 0,
        "cost_usd": totals["cost_usd"] or Decimal("0"),
    }


def cost_between(start: datetime, end: datetime) -> Decimal:
    return usage_between(start, end)["cost_usd"]
