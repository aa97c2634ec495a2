"""Webhooks (issue 22): the notifications' events POSTed to a loopback receiver by the real delivery task and the real
``requests`` client, signed with the hook's own secret, retried and recorded in the same ledger as Telegram's."""

import time
import uuid

import pytest
from django.utils import timezone

from core.notifications import notify, webhooks
from core.notifications.models import Delivery, Webhook
from core.notifications.tasks import MAX_ATTEMPTS, deliver
from tests.helpers import free_port
from tests.notifications.conftest import ALL_EVENTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooks_on(settings, webhook_receiver):
    """Webhooks only: Telegram and email off, every event sent, delivery tasks run in place."""
    settings.TELEGRAM_ENABLED = False
    settings.EMAIL_NOTIFICATIONS_ENABLED = False
    settings.NOTIFY_EVENTS = ALL_EVENTS
    settings.CELERY_TASK_ALWAYS_EAGER = True

    def make(name="ops", events=("trade_opened", "trade_closed"), **fields) -> Webhook:
        fields.setdefault("url", webhook_receiver.url(f"/{name}"))
        return Webhook.objects.create(name=name, events=list(events), **fields)

    return make


def delivery_kwargs(hook: Webhook, **overrides) -> dict:
    kwargs = {"key": str(uuid.uuid4()), "channel": "webhook", "webhook": hook.pk, "event": "trade_opened",
              "title": "Opened long BTCUSDT", "body": "Size: 0.01 BTCUSDT at 65000",
              "created_at": timezone.now().isoformat(), "context": {"symbol": "BTCUSDT"}}
    kwargs.update(overrides)
    return kwargs


def test_an_event_reaches_the_hook_signed_with_its_own_secret(hooks_on, webhook_receiver, committed, open_trade):
    hook = hooks_on()
    other = hooks_on(name="other", events=["daily_summary"])  # asks for another event: gets nothing
    with committed():
        notify.trade_opened(open_trade())

    [request] = webhook_receiver.received
    assert request.path == "/ops"
    assert request.signed_with(hook.secret)
    assert not request.signed_with(other.secret)
    assert abs(int(request.headers["X-Tradebot-Timestamp"]) - time.time()) < 60
    body = request.json
    assert set(body) == {"event", "title", "text", "created_at", "context"}
    assert (body["event"], body["title"]) == ("trade_opened", "Opened long BTCUSDT")
    assert body["text"].startswith("Strategy: btc-scalper\n")
    assert body["context"]["symbol"] == "BTCUSDT"
    # The bot's own recipe (docs/telegram.md) agrees with the receiver, and refuses a changed body or an old stamp.
    stamp, signed = request.headers["X-Tradebot-Timestamp"], request.headers["X-Tradebot-Signature"]
    assert webhooks.verify(hook.secret, stamp, request.body, signed)
    assert not webhooks.verify(hook.secret, stamp, request.body.replace(b"BTCUSDT", b"ETHUSDT"), signed)
    assert not webhooks.verify(hook.secret, stamp, request.body, signed, now=int(stamp) + 3600)
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.webhook, delivery.status, delivery.attempts) == ("webhook", hook, "sent", 1)


def test_a_500_from_the_receiver_is_retried_with_a_fresh_signature_and_recorded(hooks_on, webhook_receiver, caplog):
    hook = hooks_on()
    webhook_receiver.script(500)
    deliver.apply(kwargs=delivery_kwargs(hook))

    assert [request.status for request in webhook_receiver.received] == [500, 204]
    assert all(request.signed_with(hook.secret) for request in webhook_receiver.received)
    assert len({request.headers["X-Tradebot-Delivery"] for request in webhook_receiver.received}) == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.webhook) == ("sent", 2, hook)
    assert "retrying in 10 s: webhook ops answered HTTP 500" in caplog.text
    assert hook.secret not in caplog.text


def test_a_receiver_that_keeps_failing_ends_as_a_recorded_failure(hooks_on, webhook_receiver):
    hook = hooks_on()
    webhook_receiver.script(*[503] * MAX_ATTEMPTS)
    deliver.apply(kwargs=delivery_kwargs(hook))
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert delivery.last_error.startswith("webhook ops answered HTTP 503")
    assert delivery.last_error.endswith(f"(gave up after {MAX_ATTEMPTS} attempts)")


def test_a_refusal_is_not_retried_but_a_rate_limit_waits_as_asked(hooks_on, webhook_receiver, caplog):
    refusing, limited = hooks_on(name="refusing"), hooks_on(name="limited")
    webhook_receiver.script(404, (429, {"retry_after": 1.5}))
    deliver.apply(kwargs=delivery_kwargs(refusing))
    deliver.apply(kwargs=delivery_kwargs(limited))

    failed, sent = Delivery.objects.get(webhook=refusing), Delivery.objects.get(webhook=limited)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, "webhook refusing answered HTTP 404: "
                                                                                "Not Found")
    assert (sent.status, sent.attempts) == ("sent", 2)
    assert "retrying in 2 s: webhook limited answered HTTP 429" in caplog.text


def test_an_unreachable_hook_is_retried_and_its_url_with_a_token_stays_out_of_the_reason(hooks_on):
    hook = hooks_on(url=f"http://127.0.0.1:{free_port()}/api/webhooks/42/discord-token-SECRETPART")
    deliver.apply(kwargs=delivery_kwargs(hook))
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert delivery.last_error.startswith("cannot reach webhook ops: ")
    assert "SECRETPART" not in delivery.last_error and "<url>" in delivery.last_error


def test_the_discord_preset_posts_its_content_cut_at_discords_limit(hooks_on, webhook_receiver):
    hook = hooks_on(name="discord", preset="discord")
    deliver.apply(kwargs=delivery_kwargs(hook))
    deliver.apply(kwargs=delivery_kwargs(hook, body="x" * 3000))

    short, long = (request.json for request in webhook_receiver.received)
    assert short == {"content": "**Opened long BTCUSDT**\nSize: 0.01 BTCUSDT at 65000",
                     "allowed_mentions": {"parse": []}}
    assert len(long["content"]) == 2000
    assert long["content"].endswith("\n… (cut: Discord takes at most 2000 characters)")
    assert Delivery.objects.filter(status="sent").count() == 2


def test_one_delivery_per_hook_and_none_for_a_disabled_hook_or_an_event_not_sent(hooks_on, webhook_receiver,
                                                                                 committed, open_trade, settings):
    first, second = hooks_on(name="first"), hooks_on(name="second")
    hooks_on(name="off", enabled=False)
    with committed():
        notify.trade_opened(open_trade())
    assert sorted(request.path for request in webhook_receiver.received) == ["/first", "/second"]
    deliveries = Delivery.objects.order_by("webhook__name")
    assert [delivery.webhook for delivery in deliveries] == [first, second]
    assert deliveries[0].key != deliveries[1].key

    settings.NOTIFY_EVENTS = ["daily_summary"]  # the global filter applies to webhooks too
    with committed():
        notify.trade_opened(open_trade(symbol="ETHUSDT", order_link_id="tb-eth"))
    assert len(webhook_receiver.received) == 2


def test_a_hook_deleted_before_its_delivery_ends_as_a_failure_not_a_crash(hooks_on, webhook_receiver):
    hook = hooks_on()
    kwargs = delivery_kwargs(hook)
    hook.delete()
    deliver.apply(kwargs=kwargs)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.webhook, delivery.last_error) == ("failed", None,
                                                                        f"webhook {kwargs['webhook']} no longer exists")
    assert webhook_receiver.received == []


def test_the_admin_shows_a_new_secret_once_and_refuses_bad_urls_and_events(logged_in_client, webhook_receiver):
    form = {"name": "ops", "url": webhook_receiver.url(), "preset": "json", "events": ["trade_closed"],
            "enabled": "on"}
    created = logged_in_client.post("/admin/notifications/webhook/add/", form, follow=True)
    hook = Webhook.objects.get()
    assert hook.events == ["trade_closed"] and len(hook.secret) == 64
    assert hook.secret in created.content.decode()  # once, right after creation
    page = logged_in_client.get(f"/admin/notifications/webhook/{hook.pk}/change/").content.decode()
    assert hook.secret not in page

    refused = logged_in_client.post("/admin/notifications/webhook/add/",
                                    {**form, "name": "ftp", "url": "ftp://example.com/hook", "events": ["nope"]})
    assert refused.status_code == 200 and Webhook.objects.count() == 1
    assert "Enter a valid URL." in refused.content.decode()
    assert "Select a valid choice. nope is not one of the available choices." in refused.content.decode()


def test_notify_test_reaches_every_enabled_hook(hooks_on, webhook_receiver):
    from io import StringIO

    from django.core.management import call_command

    hook = hooks_on()
    out = StringIO()
    call_command("notify_test", stdout=out)
    assert out.getvalue() == "webhook ops: sent\n"
    [request] = webhook_receiver.received
    assert request.json["event"] == "test" and request.signed_with(hook.secret)
