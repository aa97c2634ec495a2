"""With a real worker process: the caller is done while Telegram is still busy, and the worker delivers."""

import pytest
from django.db import transaction

from core.notifications import notify
from core.notifications.models import Delivery
from tests.helpers import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def notifying_worker(request, transactional_db, fake_telegram, monkeypatch, settings):
    """A worker whose environment enables both channels (email to its console); this process queues to it.

    ``transactional_db`` is named here, not only inside the worker fixture fetched below, so the whole test
    commits for real: the worker reads the same database, and on-commit hooks fire.
    """
    for name, value in {**fake_telegram.env, "TELEGRAM_TIMEOUT": "60", "EMAIL_NOTIFICATIONS_ENABLED": "true",
                        "EMAIL_URL": "console://", "NOTIFY_EMAIL_TO": "ops@example.com"}.items():
        monkeypatch.setenv(name, value)
    worker = request.getfixturevalue("celery_worker_process")
    for name, value in fake_telegram.settings.items():
        setattr(settings, name, value)
    settings.EMAIL_NOTIFICATIONS_ENABLED = True
    settings.NOTIFY_EMAIL_TO = ["ops@example.com"]
    settings.CELERY_TASK_DEFAULT_QUEUE = worker.queue
    return worker


def test_a_trade_notification_is_delivered_by_the_worker_after_the_caller_has_returned(
        notifying_worker, fake_telegram, open_trade):
    fake_telegram.hang()
    trade = open_trade()
    with transaction.atomic():
        notify.trade_opened(trade)
    # The caller has returned; only now does the worker reach Telegram, which is still holding the request.
    wait_until(lambda: fake_telegram.hung == 1, timeout=20, what="the worker to call Telegram",
               on_timeout=notifying_worker.output)
    assert not Delivery.objects.filter(channel="telegram").exists()

    fake_telegram.release()
    wait_until(lambda: Delivery.objects.filter(status="sent").count() == 2, timeout=20,
               what="both deliveries to be recorded", on_timeout=notifying_worker.output)
    assert fake_telegram.texts()[0].startswith("Opened long BTCUSDT\n")
    assert "Subject: [tradebot] Opened long BTCUSDT" in notifying_worker.output()
    assert fake_telegram.token not in notifying_worker.output()
