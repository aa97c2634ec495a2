"""Where the cycle meets the configuration: builds it from settings and records each run."""

from __future__ import annotations

import socket

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from exchange.factory import get_exchange
from strategies.models import Strategy
from tradebot.events import Event, publish
from trades.cycle import CycleReport, TradingCycle
from trades.models import CycleRun
from trades.queries import bot_status


def build_cycle(*, dry_run: bool = False) -> TradingCycle:
    from ai.service import ai_unavailable_reason, get_ai_service

    return TradingCycle(exchange=get_exchange(), ai_service=get_ai_service(),
                        ai_unavailable_reason=ai_unavailable_reason(), kline_limit=settings.CYCLE_KLINE_LIMIT,
                        lock_seconds=settings.CYCLE_LOCK_SECONDS, max_notional=settings.MAX_ORDER_NOTIONAL,
                        dry_run=dry_run)


def start_run(trigger: str) -> CycleRun:
    return CycleRun.objects.create(trigger=trigger, worker=socket.gethostname())


def run_strategies(strategies: list[Strategy], *, run: CycleRun | None = None, dry_run: bool = False) -> CycleReport:
    report = build_cycle(dry_run=dry_run).run(strategies)
    if run is not None:
        CycleRun.objects.filter(pk=run.pk).update(
            pairs=F("pairs") + len(report.pairs), orders=F("orders") + report.orders, finished_at=timezone.now(),
            **({"error": "; ".join(report.errors)[:2000]} if report.errors else {}))
        publish_status()
    return report


def publish_status() -> None:
    publish(Event.BOT_STATUS, bot_status())
