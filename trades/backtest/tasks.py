"""The Celery task behind the Backtests page and ``POST /api/backtests``.

Discovered through ``trades.tasks`` (the worker looks for each app's tasks.py); enqueued by ``trades.commands``.
"""

from __future__ import annotations

from celery import shared_task

from trades.backtest.runner import run_pending


@shared_task(name="trades.backtest.tasks.run_backtest", acks_late=False)
def run_backtest(run_id: int) -> str:
    """Run a pending ``BacktestRun``; a second delivery of the same id finds it claimed and does nothing."""
    return run_pending(run_id)
