"""Delivery: retries with backoff, Telegram's retry_after, bounded attempts, recorded outcomes."""

import uuid

import pytest
from django.utils import timezone

from core.notifications import notify
from core.notifications.models import Delivery
from core.notifications.tasks import LONGEST_WAIT_SECONDS, MAX_ATTEMPTS, deliver, next_delay
from core.notifications.transports import DeliveryError
from tests.helpers import free_port

pytestmark = pytest.mark.django_db


def delivery_kwargs(channel="telegram", **overrides):
    kwargs = {"key": str(uuid.uuid4()), "channel": channel, "event": "trade_opened", "title": "Opened long BTCUSDT",
              "body": "Size: 0.01 BTCUSDT at 65000", "created_at": timezone.now().isoformat()}
    kwargs.update(overrides)
    return kwargs


def test_it_waits_as_long_as_telegram_asks_after_a_429():
    assert next_delay(DeliveryError("429", retry_after=7), attempt=1) == 7
    assert next_delay(DeliveryError("429", retry_after=0), attempt=1) == 1


def test_it_gives_up_when_telegram_asks_for_a_wait_the_broker_cannot_hold():
    assert next_delay(DeliveryError("429", retry_after=LONGEST_WAIT_SECONDS + 1), attempt=1) is None


def test_it_backs_off_longer_after_each_failure_and_stops_after_the_last_attempt():
    delays = [next_delay(DeliveryError("502"), attempt=attempt) for attempt in range(1, MAX_ATTEMPTS + 1)]
    assert delays[:-1] == sorted(delays[:-1])
    assert all(0 < delay <= LONGEST_WAIT_SECONDS for delay in delays[:-1])
    assert delays[-1] is None


def test_a_refusal_that_cannot_change_is_not_retried():
    assert next_delay(DeliveryError("401 Unauthorized", retryable=False), attempt=1) is None


def test_a_rate_limited_message_goes_out_on_the_next_attempt(channels_on, caplog):
    channels_on.rate_limit(retry_after=2)
    deliver.apply(kwargs=delivery_kwargs())
    assert channels_on.attempts == 2
    assert channels_on.texts() == ["Opened long BTCUSDT\nSize: 0.01 BTCUSDT at 65000"]
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, "")
    assert "retrying in 2 s: Telegram answered HTTP 429: Too Many Requests: retry after 2" in caplog.text


def test_a_telegram_outage_delays_nothing_in_the_caller_and_ends_as_a_recorded_failure(
        channels_on, mailoutbox, django_capture_on_commit_callbacks, open_trade):
    channels_on.fail(502)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify.trade_opened(open_trade())
    # The caller is back and has not talked to Telegram: all it left behind is the enqueue for after commit.
    assert channels_on.attempts == 0
    assert len(callbacks) == 1

    callbacks[0]()  # the commit: delivery tasks run (eagerly here, retries included)
    assert channels_on.attempts == MAX_ATTEMPTS
    failed = Delivery.objects.get(channel="telegram")
    assert (failed.status, failed.attempts, failed.event) == ("failed", MAX_ATTEMPTS, "trade_opened")
    assert failed.last_error == (f"Telegram answered HTTP 502: Internal Server Error "
                                 f"(gave up after {MAX_ATTEMPTS} attempts)")
    assert failed.text.startswith("Strategy: btc-scalper\n")
    # The other channel is unaffected.
    assert Delivery.objects.get(channel="email").status == "sent"
    assert len(mailoutbox) == 1


def test_a_telegram_that_never_answers_ends_as_a_recorded_failure(channels_on):
    channels_on.hang()
    deliver.apply(kwargs=delivery_kwargs())
    failed = Delivery.objects.get()
    assert (failed.status, failed.attempts) == ("failed", MAX_ATTEMPTS)
    assert failed.last_error == f"Telegram did not answer within 0.3 s (gave up after {MAX_ATTEMPTS} attempts)"


def test_an_unreachable_telegram_is_recorded_with_the_reason(channels_on, settings):
    settings.TELEGRAM_API_BASE_URL = f"http://127.0.0.1:{free_port()}"
    deliver.apply(kwargs=delivery_kwargs())
    failed = Delivery.objects.get()
    assert failed.status == "failed"
    assert failed.last_error.startswith("cannot reach Telegram: ")
    assert "Connection refused" in failed.last_error


def test_a_wrong_token_fails_at_once_without_retries(channels_on, settings):
    settings.TELEGRAM_BOT_TOKEN = "123:not-the-token"
    deliver.apply(kwargs=delivery_kwargs())
    failed = Delivery.objects.get()
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error == "Telegram answered HTTP 401: Unauthorized"
    assert channels_on.messages == []


def test_a_message_already_sent_is_not_sent_again_when_its_task_is_redelivered(channels_on):
    kwargs = delivery_kwargs()
    deliver.apply(kwargs=kwargs)
    deliver.apply(kwargs=kwargs)
    assert len(channels_on.messages) == 1
    assert Delivery.objects.get().attempts == 1


def test_an_email_goes_out_with_the_title_as_subject(channels_on, mailoutbox):
    deliver.apply(kwargs=delivery_kwargs(channel="email"))
    assert [(mail.subject, mail.body) for mail in mailoutbox] == [
        ("[tradebot] Opened long BTCUSDT", "Size: 0.01 BTCUSDT at 65000")]
    assert Delivery.objects.get().status == "sent"
