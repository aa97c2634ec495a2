"""The daily summary: its window, its numbers, and exactly one per day."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ai.models import AICall
from core.notifications.models import DailySummary
from tests.notifications.factories import close
from trades.daily_summary import due_window, send_if_due
from trades.tasks import send_daily_summary

# The database first: creating the test database replaces Django's mail outbox, so `mailoutbox` must come after.
pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
UTC = UTC


def test_nothing_is_due_before_the_summary_hour():
    assert due_window(datetime(2026, 4, 10, 17, 59, tzinfo=UTC), hour=20, zone=BERLIN) is None  # 19:59 in Berlin


def test_the_window_is_the_24_hours_before_the_summary_hour_in_the_bot_time_zone():
    window = due_window(datetime(2026, 4, 10, 21, 0, tzinfo=UTC), hour=20, zone=BERLIN)  # 23:00 in Berlin
    assert window.day == date(2026, 4, 10)
    assert window.start == datetime(2026, 4, 9, 18, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 4, 10, 18, 0, tzinfo=UTC)


def test_a_window_across_a_clock_change_is_23_hours_long():
    window = due_window(datetime(2026, 3, 29, 19, 0, tzinfo=UTC), hour=20, zone=BERLIN)  # DST began that night
    assert window.end.astimezone(UTC) - window.start.astimezone(UTC) == timedelta(hours=23)


@pytest.fixture
def summary_settings(channels_on, settings):
    settings.BOT_TIMEZONE = "UTC"
    settings.DAILY_SUMMARY_HOUR = 20
    return channels_on


def test_the_summary_reports_pnl_trades_win_rate_open_positions_and_ai_cost(
        summary_settings, mailoutbox, committed, open_trade):
    at = datetime(2026, 4, 10, 20, 0, tzinfo=UTC)
    win = open_trade(symbol="BTCUSDT", order_link_id="win", executed_at=at - timedelta(hours=10))
    close(win, pnl="30.50", fees="1.10", after=timedelta(hours=2))
    loss = open_trade(symbol="ETHUSDT", order_link_id="loss", executed_at=at - timedelta(hours=30))
    close(loss, pnl="-10.25", fees="0.90", after=timedelta(hours=20))  # opened before the window, closed in it
    old = open_trade(symbol="SOLUSDT", order_link_id="old", executed_at=at - timedelta(days=3))
    close(old, pnl="99", after=timedelta(hours=1))  # outside the window entirely
    open_trade(symbol="XRPUSDT", order_link_id="still-open", executed_at=at - timedelta(hours=1),
               quantity=Decimal("100"), price=Decimal("0.5"), stop_loss=Decimal("0.49"), take_profit=Decimal("0.52"))
    for cost, hours_ago in ((Decimal("0.012"), 3), (Decimal("0.003"), 5), (Decimal("5"), 30)):
        call = AICall.objects.create(symbol="BTCUSDT", timeframe="5", candle_time=at, model="gpt-4o-mini",
                                     prompt_version="v1", status="ok", cost_usd=cost)
        AICall.objects.filter(pk=call.pk).update(created_at=at - timedelta(hours=hours_ago))

    with committed():
        assert send_if_due(at + timedelta(minutes=1)) == "sent"

    assert summary_settings.texts() == [
        "Daily summary 2026-04-10: +20.25 USDT\n"
        "Period: 2026-04-09 20:00 to 2026-04-10 20:00 (UTC)\n"
        "Realized PnL: +20.25 USDT (fees 2.00 USDT)\n"
        "Trades: 2 opened, 2 closed\n"
        "Win rate: 50.0% (1 of 2)\n"
        "AI cost: 0.0150 USD\n"
        "Open positions: 1\n"
        "- long 100 XRPUSDT at 0.5, SL 0.49, TP 0.52"]
    assert [mail.subject for mail in mailoutbox] == ["[tradebot] Daily summary 2026-04-10: +20.25 USDT"]


def test_it_sends_one_summary_per_day_however_often_it_runs(summary_settings, mailoutbox, committed):
    evening = datetime(2026, 4, 10, 20, 0, 3, tzinfo=UTC)
    with committed():
        outcomes = [send_if_due(evening - timedelta(hours=1)), send_if_due(evening), send_if_due(evening),
                    send_if_due(evening + timedelta(hours=1)), send_if_due(evening + timedelta(days=1))]
    assert outcomes == ["not due yet", "sent", "already sent", "already sent", "sent"]
    assert list(DailySummary.objects.values_list("day", flat=True)) == [date(2026, 4, 11), date(2026, 4, 10)]
    assert len(summary_settings.texts()) == 2
    assert len(mailoutbox) == 2


def test_the_beat_task_sends_todays_summary_once(summary_settings, settings, committed):
    settings.DAILY_SUMMARY_HOUR = 0  # due all day, whenever the test runs
    with committed():
        send_daily_summary.apply()
        send_daily_summary.apply()
    assert DailySummary.objects.count() == 1
    assert len(summary_settings.texts()) == 1


def test_no_summary_is_claimed_while_no_channel_sends_it(summary_settings, settings, committed):
    settings.NOTIFY_EVENTS = ["trade_opened"]
    with committed():
        assert send_if_due(datetime(2026, 4, 10, 21, tzinfo=UTC)) == "no channel sends the daily summary"
    assert DailySummary.objects.count() == 0
