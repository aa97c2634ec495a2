"""Where the cycle meets the configuration: builds it from settings and records each run."""

from __future__ import annotations

import socket

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ai.service import ai_unavailable_reason, get_ai_service
from core.events import Event, publish
from exchange.factory import get_exchange
from strategies.models import Strategy
from trades.cycle import CycleReport, TradingCycle
from trades.models import CycleRun, DecisionOutcome
from trades.queries import bot_status


def build_cycle(*, dry_run: bool = False) -> TradingCycle:
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
            pairs=F("pairs") + len(report.pairs), orders=F("orders") + report.orders, finished_at=timezone.now())
        problems = report.errors + failed_pairs(report)
        if problems:  # a pair that failed fails the run: the status line, the admin and the API say which and why
            record_failure(run.pk, problems)
        publish_status()
    return report


def record_failure(run_id: int, problems: list[str]) -> None:
    """Mark the run failed and add ``problems`` to its error (several strategies' sub-tasks may each add theirs)."""
    with transaction.atomic():
        run = CycleRun.objects.select_for_update().get(pk=run_id)
        run.status = CycleRun.Status.FAILED
        run.error = "; ".join(part for part in (run.error, *problems) if part)[:2000]
        run.save(update_fields=["status", "error"])


def failed_pairs(report: CycleReport) -> list[str]:
    """Each strategy x symbol the cycle could not decide or trade, with why (klines missing, a strategy error)."""
    return [f"{pair.strategy.name} {pair.symbol}: {pair.detail}" for pair in report.pairs
            if pair.outcome == DecisionOutcome.FAILED]


def publish_status() -> None:
    publish(Event.BOT_STATUS, bot_status())
