"""What the trading cycle calls: one message per enabled channel and event, after commit, never an error."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import transaction

from core.notifications import notify
from core.notifications.models import Delivery
from tests.notifications.factories import close
from trades.models import Trade

pytestmark = pytest.mark.django_db


def test_it_sends_one_opened_and_one_closed_message_on_each_channel(channels_on, mailoutbox, committed, open_trade):
    trade = open_trade()
    with committed():
        notify.trade_opened(trade)
    with committed():
        notify.trade_closed(close(trade))

    texts = channels_on.texts()
    assert len(texts) == 2
    assert texts[0].startswith("Opened long BTCUSDT\n")
    assert texts[1].startswith("Closed long BTCUSDT: +12.28 USDT\n")
    assert {message["chat_id"] for message in channels_on.messages} == {channels_on.chat_id}
    assert [mail.subject for mail in mailoutbox] == ["[tradebot] Opened long BTCUSDT",
                                                     "[tradebot] Closed long BTCUSDT: +12.28 USDT"]
    assert mailoutbox[0].to == ["trader@example.com"]
    assert mailoutbox[0].from_email == "bot@example.com"
    assert "Stop-loss: 64350  Take-profit: 66300" in mailoutbox[0].body
    assert sorted(Delivery.objects.values_list("event", "channel", "status", "attempts")) == [
        ("trade_closed", "email", "sent", 1), ("trade_closed", "telegram", "sent", 1),
        ("trade_opened", "email", "sent", 1), ("trade_opened", "telegram", "sent", 1)]


def test_a_disabled_channel_gets_nothing(channels_on, settings, mailoutbox, committed, open_trade):
    settings.TELEGRAM_ENABLED = False
    with committed():
        notify.trade_opened(open_trade())
    assert channels_on.attempts == 0
    assert len(mailoutbox) == 1


def test_an_event_left_out_of_notify_events_is_sent_nowhere(channels_on, settings, mailoutbox, committed,
                                                           open_trade):
    settings.NOTIFY_EVENTS = ["trade_closed", "errors"]
    with committed() as callbacks:
        notify.trade_opened(open_trade())
    assert callbacks == []
    assert channels_on.attempts == 0
    assert mailoutbox == []


def test_each_channel_sends_only_the_events_in_its_own_list(channels_on, settings, mailoutbox, committed, open_trade):
    settings.EMAIL_EVENTS = ["daily_summary", "errors"]
    with committed():
        notify.trade_opened(open_trade())
    assert len(channels_on.texts()) == 1
    assert mailoutbox == []


def test_nothing_is_queued_before_the_transaction_commits(channels_on, django_capture_on_commit_callbacks,
                                                          open_trade):
    trade = open_trade()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify.trade_opened(trade)
        assert channels_on.attempts == 0
    assert len(callbacks) == 1
    assert Delivery.objects.count() == 0


def test_a_rolled_back_transaction_sends_nothing(channels_on, mailoutbox, committed, open_trade):
    trade = open_trade()
    with committed():
        try:
            with transaction.atomic():
                notify.trade_opened(trade)
                raise RuntimeError("the order was rejected after all")
        except RuntimeError:
            pass
    assert channels_on.attempts == 0
    assert mailoutbox == []


def test_it_sends_at_most_one_message_per_error_kind_in_ten_minutes(channels_on, mailoutbox, committed,
                                                                    unmuted_errors):
    with committed():
        notify.error("exchange", "Bybit answered 10006: too many visits")
    with committed():
        notify.error("exchange", "Bybit answered 10006: too many visits")
        notify.error("exchange", "Bybit timed out")
    with committed():
        notify.error("ai", "OpenAI answered 503")

    assert channels_on.texts() == [
        "Repeated errors: exchange\nBybit answered 10006: too many visits\n"
        "Further exchange errors are not sent for 10 minutes; the log has every one.",
        "Repeated errors: ai\nOpenAI answered 503\n"
        "Further ai errors are not sent for 10 minutes; the log has every one.",
    ]
    assert [mail.subject for mail in mailoutbox] == ["[tradebot] Repeated errors: exchange",
                                                     "[tradebot] Repeated errors: ai"]


def test_it_reports_what_reconciliation_found(channels_on, committed):
    with committed():
        notify.reconciliation(["ETHUSDT: position on the exchange with no open trade",
                               "BTCUSDT: trade 12 is open but the exchange holds no position"])
        notify.reconciliation([])
    assert channels_on.texts() == [
        "Reconciliation found 2 unexpected things\n"
        "- ETHUSDT: position on the exchange with no open trade\n"
        "- BTCUSDT: trade 12 is open but the exchange holds no position"]


def test_it_says_when_and_why_a_strategy_was_paused(channels_on, settings, committed, make_strategy):
    settings.BOT_TIMEZONE = "Europe/Berlin"
    strategy = make_strategy(name="eth-trend", paused_until=datetime(2026, 4, 10, 22, 0, tzinfo=UTC))
    with committed():
        notify.strategy_paused(strategy, "daily loss limit reached: -3.10% of equity (limit 3%)")
    assert channels_on.texts() == [
        "Strategy eth-trend paused\n"
        "Reason: daily loss limit reached: -3.10% of equity (limit 3%)\n"
        "No new entries until 2026-04-11 00:00 CEST; open positions keep their stop-loss."]


def test_it_never_raises_into_the_caller(channels_on, committed, caplog):
    broken = Trade(symbol="BTCUSDT", side="Buy", quantity=None, price=Decimal("65000"), order_link_id="tb-broken")
    with committed() as callbacks:
        assert notify.trade_opened(broken) is None
    assert callbacks == []
    assert "notification trade_opened not sent" in caplog.text
    assert channels_on.attempts == 0
