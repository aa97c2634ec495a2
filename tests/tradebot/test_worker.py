"""A real Celery worker process takes the cycle task from the real Redis broker, and what it
publishes crosses processes to a browser's socket through the Redis channel layer."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from dashboard.consumers import DashboardConsumer
from tests.helpers import wait_until
from trades.models import CycleRun
from trades.tasks import run_active_strategies

pytestmark = pytest.mark.slow


def test_a_worker_process_runs_the_cycle_task_from_the_broker(celery_worker_process):
    run_active_strategies.apply_async(kwargs={"trigger": "test"}, queue=celery_worker_process.queue)
    run = wait_until(lambda: CycleRun.objects.filter(trigger="test", finished_at__isnull=False).first(), timeout=20,
                     what="the worker to record the cycle", on_timeout=celery_worker_process.output)
    assert run.status == CycleRun.Status.OK
    assert "trades.tasks.run_active_strategies" in celery_worker_process.output()


def test_an_event_from_the_worker_reaches_a_browser_socket(celery_worker_process, user):
    async def scenario():
        communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        run_active_strategies.apply_async(kwargs={"trigger": "socket-test"}, queue=celery_worker_process.queue)
        message = await communicator.receive_json_from(timeout=20)
        await communicator.disconnect()
        return message

    message = async_to_sync(scenario)()
    assert message["event"] == "botStatus"
    assert message["data"]["last_cycle_status"] == "ok"
