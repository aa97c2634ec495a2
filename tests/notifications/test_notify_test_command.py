"""``manage.py notify_test``: a test message on every enabled channel, and what happened to it."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.notifications.models import Delivery

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("notify_test", stdout=out)
    return out.getvalue()


def test_it_sends_a_test_message_on_every_enabled_channel(channels_on, mailoutbox):
    assert run() == "telegram: sent\nemail: sent\n"
    assert channels_on.texts()[0].startswith("Test notification\ntradebot on ")
    assert [mail.subject for mail in mailoutbox] == ["[tradebot] Test notification"]
    assert sorted(Delivery.objects.values_list("channel", "event", "status")) == [
        ("email", "test", "sent"), ("telegram", "test", "sent")]


def test_it_prints_why_a_channel_failed_and_exits_with_an_error(channels_on, mailoutbox):
    channels_on.fail(503)
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 2 channel"):
        call_command("notify_test", stdout=out)
    assert out.getvalue() == ("telegram: failed: Telegram answered HTTP 503: Internal Server Error\n"
                              "email: sent\n")
    assert Delivery.objects.get(channel="telegram").last_error == "Telegram answered HTTP 503: Internal Server Error"


def test_it_says_clearly_when_no_channel_is_enabled(settings):
    settings.TELEGRAM_ENABLED = False
    settings.EMAIL_NOTIFICATIONS_ENABLED = False
    with pytest.raises(CommandError, match="No notification channel is enabled: set TELEGRAM_ENABLED=true"):
        run()
