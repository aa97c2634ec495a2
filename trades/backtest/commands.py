"""Launching a backtest: the one function the Backtests page, the API and (later) chat call, with its guard."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from core.errors import Forbidden
from core.security import permission_refusal
from trades.backtest.inputs import StrategySpec
from trades.backtest.models import BacktestRun
from trades.backtest.runner import RunSettings, parameters_of, symbol_label
from trades.backtest.tasks import run_backtest

logger = logging.getLogger(__name__)


def launch_refusal(user) -> str | None:
    """Why ``user`` may not launch backtests, or None. Forms ask it before validating, so a refusal comes first."""
    return permission_refusal(user, "trades.add_backtestrun")


def launch_backtest(user, spec: StrategySpec, run_settings: RunSettings) -> BacktestRun:
    """A pending run now; the Celery task runs it once the row is committed."""
    refusal = launch_refusal(user)
    if refusal:
        raise Forbidden(refusal)
    run = BacktestRun.objects.create(
        strategy_id=spec.strategy_id, name=spec.name or spec.type, symbol=symbol_label(run_settings),
        timeframe=spec.timeframe, start=run_settings.start, end=run_settings.end,
        parameters=parameters_of(spec, run_settings), initial_balance=run_settings.initial_balance)

    def queue() -> None:
        try:
            run_backtest.delay(run.pk)
        except Exception as error:  # noqa: BLE001 - no broker: say so on the run instead of leaving it pending
            logger.exception("backtest could not be queued", extra={"backtest": run.pk, "symbol": run.symbol})
            BacktestRun.objects.filter(pk=run.pk, status=BacktestRun.Status.PENDING).update(
                status=BacktestRun.Status.FAILED, error=f"could not be queued: {error}"[:2000],
                finished_at=timezone.now())

    transaction.on_commit(queue)
    logger.info("backtest queued", extra={"strategy": run.name, "symbol": run.symbol, "backtest": run.pk,
                                          "user": user.get_username()})
    return run
