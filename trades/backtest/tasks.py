"""The Celery task behind the Backtests page and ``POST /api/backtests``.

Imported with the models (see ``trades.backtest.models``), so everything heavy is imported inside.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="trades.backtest.tasks.run_backtest", acks_late=False)
def run_backtest(run_id: int) -> str:
    """Run a pending ``BacktestRun``; a second delivery of the same id finds it claimed and does nothing."""
    from trades.backtest.runner import run_pending

    return run_pending(run_id)
