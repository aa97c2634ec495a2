"""Celery tasks of the trading cycle. Beat fires ``run_active_strategies`` just after every minute."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.core.cache import cache
from django.utils import timezone

from core.notifications import notify
from exchange.factory import get_exchange
from strategies.models import Strategy
from trades.backtest.tasks import run_backtest  # noqa: F401  (the worker discovers each app's tasks.py only)
from trades.daily_summary import send_if_due
from trades.models import CycleRun, Decision
from trades.reconcile import reconcile
from trades.runner import (
    kline_calls,
    publish_status,
    rate_limit_problem,
    record_failure,
    run_strategies,
    start_run,
    strategy_groups,
)

logger = logging.getLogger(__name__)

DECISION_RETENTION = timedelta(days=7)
FINDING_REPEAT_SECONDS = 6 * 3600


@shared_task(bind=True, name="trades.tasks.run_active_strategies")
def run_active_strategies(self, trigger: str = "beat") -> int:
    """Step 1: reconcile with the exchange, then one sub-task per group of active strategies (``strategy_groups``)."""
    run = start_run(trigger)
    try:
        settle_with_exchange()
        queue = (self.request.delivery_info or {}).get("routing_key")  # sub-tasks follow the dispatcher's queue
        groups = strategy_groups(list(Strategy.objects.filter(is_active=True)))
        problem = rate_limit_problem(kline_calls(groups))
        if problem:  # said on every run (the status line shows the failed run), traded anyway: the trader decides
            logger.warning("cycle over the exchange's rate limit", extra={"cycle": run.pk, "problem": problem})
            record_failure(run.pk, [problem])
        for group in groups:  # a worker evaluates each group, sharing klines and indicators inside it
            run_strategy_group.apply_async(args=[[strategy.pk for strategy in group], run.pk], queue=queue,
                                           expires=55)
        Decision.objects.filter(created_at__lt=timezone.now() - DECISION_RETENTION).delete()
        # Only if no sub-task has already failed the run (they may finish before this line).
        CycleRun.objects.filter(pk=run.pk, status=CycleRun.Status.RUNNING).update(status=CycleRun.Status.OK)
    except Exception as error:  # noqa: BLE001 - recorded on the run and shown on the dashboard
        logger.exception("trading cycle failed", extra={"cycle": run.pk})
        record_failure(run.pk, [str(error)])
        notify.error("cycle", f"The trading cycle failed: {error}")
    CycleRun.objects.filter(pk=run.pk, finished_at__isnull=True).update(finished_at=timezone.now())
    run.refresh_from_db()
    logger.info("trading cycle dispatched", extra={"cycle": run.pk, "trigger": trigger, "status": run.status})
    publish_status()
    return run.pk


@shared_task(name="trades.tasks.run_strategy")
def run_strategy(strategy_id: int, cycle_id: int | None = None) -> int:
    """Steps 2-9 for one strategy on all its symbols (safe to run twice: the same ids, the same lease)."""
    strategy = Strategy.objects.filter(pk=strategy_id, is_active=True).first()
    if strategy is None:
        return 0
    run = CycleRun.objects.filter(pk=cycle_id).first() if cycle_id else None
    report = run_strategies([strategy], run=run)
    return report.orders


@shared_task(name="trades.tasks.run_strategy_group")
def run_strategy_group(strategy_ids: list[int], cycle_id: int | None = None, dry_run: bool = False) -> int:
    """Steps 2-9 for several strategies in one cycle run: klines fetched once per (symbol, interval) and indicators
    once per parameter set for all of them; each strategy's entries still decided under its own lease. ``dry_run``:
    every decision taken and written, no order sent (the dispatcher never sets it; ``benchmarks/cycle_bench.py``
    does, as its one-process row does)."""
    strategies = list(Strategy.objects.filter(pk__in=strategy_ids, is_active=True).order_by("pk"))
    if not strategies:
        return 0
    run = CycleRun.objects.filter(pk=cycle_id).first() if cycle_id else None
    return run_strategies(strategies, run=run, dry_run=dry_run).orders


def _first_report(finding: str) -> bool:
    """Reconciliation runs every minute; the trader hears about the same finding once in a while, not 60x/hour."""
    key = "reconcile-finding:" + hashlib.sha1(finding.encode()).hexdigest()
    try:
        return cache.add(key, 1, timeout=FINDING_REPEAT_SECONDS)
    except Exception:  # noqa: BLE001 - no cache: better a repeated message than a silent one
        return True


@shared_task(name="trades.tasks.reconcile")
def reconcile_task() -> list[str]:
    return settle_with_exchange()


def settle_with_exchange() -> list[str]:
    report = reconcile(get_exchange())
    new_findings = [finding for finding in report.findings if _first_report(finding)]
    if new_findings:
        notify.reconciliation(new_findings)
    for line in report.lines():
        logger.info("reconciliation: %s", line)
    return report.lines()


@worker_ready.connect
def reconcile_on_start(sender, **kwargs):
    """A restarted worker settles whatever a crash left pending before the next cycle."""
    queues = getattr(getattr(sender, "task_consumer", None), "queues", None) or []
    reconcile_task.apply_async(expires=60, queue=queues[0].name if queues else None)


# The name predates the move from the notifications app: beat's stored schedule (a migration) calls it by it.
@shared_task(name="notifications.tasks.send_daily_summary", ignore_result=True)
def send_daily_summary() -> str:
    """Beat fires this every hour; it sends the summary at the first run on or after DAILY_SUMMARY_HOUR."""
    return send_if_due(timezone.now())
