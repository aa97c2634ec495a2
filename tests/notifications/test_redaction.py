"""The Telegram token is in every Bot API URL; it must show up in no log line, record, admin page or output."""

import logging
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from core.notifications.models import Delivery
from core.notifications.tasks import deliver
from tests.fakes.telegram_server import FAKE_TOKEN
from tests.helpers import free_port

pytestmark = pytest.mark.django_db

SECRET_HALF = FAKE_TOKEN.split(":", 1)[1]  # a token is "<bot id>:<secret>"


def leaks(text: str, token: str) -> bool:
    return token in text or SECRET_HALF in text


def deliver_once():
    deliver.apply(kwargs={"key": str(uuid.uuid4()), "channel": "telegram", "event": "errors",
                          "title": "Repeated errors", "body": "exchange down",
                          "created_at": timezone.now().isoformat()})


def test_the_bot_token_appears_in_no_log_line_record_admin_page_or_command_output(
        channels_on, settings, caplog, logged_in_client, capsys):
    token = channels_on.token
    caplog.set_level(logging.DEBUG)

    channels_on.fail(500)
    deliver_once()  # Telegram's 5xx, retried, then recorded
    channels_on.heal()
    channels_on.hang()
    deliver_once()  # timeouts
    channels_on.heal()
    settings.TELEGRAM_API_BASE_URL = f"http://127.0.0.1:{free_port()}"
    deliver_once()  # connection refused: requests' message carries the full URL
    with pytest.raises(CommandError):
        call_command("notify_test")

    failures = list(Delivery.objects.filter(status="failed"))
    assert len(failures) == 4  # three deliveries and the command's attempt
    for failure in failures:
        assert not leaks(failure.last_error + failure.text + failure.title, token)
    assert any("/bot***/sendMessage" in failure.last_error for failure in failures)

    pages = [logged_in_client.get("/admin/notifications/delivery/")]
    pages += [logged_in_client.get(f"/admin/notifications/delivery/{failure.pk}/change/") for failure in failures]
    assert all(page.status_code == 200 for page in pages)
    assert not any(leaks(page.content.decode(), token) for page in pages)

    output = capsys.readouterr()
    assert "telegram: failed: cannot reach Telegram" in output.out
    assert not leaks(output.out + output.err, token)

    assert len(caplog.records) > 10
    for record in caplog.records:
        assert not leaks(record.getMessage(), token), record.getMessage()
        assert not leaks(str(record.__dict__), token), record.name
    assert not leaks(caplog.text, token)
