"""Celery tasks of the trading cycle. Beat fires ``run_active_strategies`` every minute."""

import logging
import socket

from celery import shared_task
from django.utils import timezone

from tradebot.events import Event, publish
from trades.models import CycleRun

logger = logging.getLogger(__name__)


@shared_task(name="trades.tasks.run_active_strategies")
def run_active_strategies(trigger: str = "beat") -> int:
    run = CycleRun.objects.create(trigger=trigger, worker=socket.gethostname())
    # The strategy pass arrives with the trading cycle (issue 5); until then the cycle records that it ran.
    run.status = CycleRun.Status.OK
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at"])
    logger.info("trading cycle finished", extra={"cycle": run.pk, "trigger": trigger, "pairs": run.pairs})
    publish(Event.BOT_STATUS, {"last_cycle_at": run.finished_at, "last_cycle_status": run.status,
                               "last_error": run.error})
    return run.pk
