"""Where the cycle meets the configuration: builds it from settings and records each run."""

from __future__ import annotations

import json
import math
import socket

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ai.service import ai_unavailable_reason, get_ai_service
from core.events import Event, publish
from exchange.factory import get_exchange
from strategies.models import Strategy
from trades.cycle import CycleReport, TradingCycle, frame_intervals
from trades.models import CycleRun, DecisionOutcome
from trades.queries import bot_status


def build_cycle(*, dry_run: bool = False) -> TradingCycle:
    return TradingCycle(exchange=get_exchange(), ai_service=get_ai_service(),
                        ai_unavailable_reason=ai_unavailable_reason(), kline_limit=settings.CYCLE_KLINE_LIMIT,
                        lock_seconds=settings.CYCLE_LOCK_SECONDS, max_notional=settings.MAX_ORDER_NOTIONAL,
                        dry_run=dry_run)


# Bybit's HTTP limit per IP: 600 requests in any 5-second window (https://bybit-exchange.github.io/docs/v5/rate-limit).
# The fetch is paced to BYBIT_IP_LIMIT (550 per 5 s by default, exchange.ratelimit), never above this.
IP_REQUESTS_PER_5S = 600
CALLS_PER_TASK = 3  # server time, wallet balance, positions


def strategy_groups(strategies: list[Strategy], pairs_per_task: int | None = None) -> list[list[Strategy]]:
    """The strategies in consecutive groups of about ``pairs_per_task`` pairs (``CYCLE_PAIRS_PER_TASK``), those with
    the same timeframes side by side, then those with the same indicator periods (so a group fetches each symbol's
    klines, and computes its indicators, once for all of them). A strategy is never split.

    Why 5,000 by default: one address's Bybit limit, not the CPU, bounds a big cycle. Two groups that need the same
    (symbol, interval) each fetch it, and the address's window pays twice; a 5,000-pair group is about 3 s of one
    core, so splitting finer gains nothing until there are several addresses (docs/scaling.md)."""
    pairs_per_task = pairs_per_task or settings.CYCLE_PAIRS_PER_TASK
    ordered = sorted(strategies, key=lambda s: (s.timeframe, s.confirm_timeframe, json.dumps(s.indicators or {},
                                                                                           sort_keys=True),
                                                s.type, s.pk or 0))
    total = sum(len(strategy.symbols) for strategy in ordered)
    target = math.ceil(total / max(1, math.ceil(total / pairs_per_task))) if total else 1
    groups: list[list[Strategy]] = [[]]
    size = 0
    for strategy in ordered:
        if groups[-1] and size + len(strategy.symbols) > target:
            groups.append([])
            size = 0
        groups[-1].append(strategy)
        size += len(strategy.symbols)
    return [group for group in groups if group]


def kline_calls(groups: list[list[Strategy]]) -> int:
    """Exchange calls one cycle makes for these groups: one kline request per (symbol, interval) a group needs,
    plus each sub-task's server time, balance and positions."""
    calls = 0
    for group in groups:
        keys = {(symbol, interval) for strategy in group for interval in frame_intervals(strategy)
                for symbol in strategy.symbols}
        calls += len(keys) + CALLS_PER_TASK
    return calls


def rate_limit_problem(calls: int, *, ips: int = 1, seconds: float = 60.0) -> str:
    """Why ``calls`` requests a cycle (spread over ``ips`` worker addresses) cannot be sent within ``seconds`` at the
    pace each address keeps (BYBIT_IP_LIMIT, inside Bybit's limit per IP); "" when they can. The fetch then takes at
    least calls / (pace x ips) seconds."""
    requests, window = settings.BYBIT_IP_LIMIT
    per_second = requests / window * max(1, ips)
    needed = calls / per_second
    if needed <= seconds:
        return ""
    return (f"{calls} exchange calls a cycle need {needed:.0f} s at {requests} requests per {window:g} s per IP "
            f"address (BYBIT_IP_LIMIT, inside Bybit's {IP_REQUESTS_PER_5S} requests per 5 s per IP; {ips} IP(s)): "
            f"more than the {seconds:.0f} s a one-minute cycle has. Use fewer symbols or timeframes, or more worker "
            f"machines (IP addresses, each with its own BYBIT_IP_GROUP).")


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
