"""Issue 22's "must show", at the wire: the real control bot, long polling the fake Bot API, commanding the fake
Bybit (through the real pybit client) and the paper exchange, as the linked user or as a stranger."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from chat.models import ChatCommand, Confirmation
from exchange.factory import get_exchange
from exchange.paper import PaperExchange
from exchange.replay import ReplayMarketData
from market.types import OrderRequest, Side
from tests.chat.conftest import STRANGER_CHAT_ID, say, tap
from tests.helpers import SetClock
from trades import commands
from trades.cycle import TradingCycle
from trades.models import Decision, Trade, TradeStatus
from trades.queries import bot_status
from trades.reconcile import reconcile


@pytest.fixture
def open_trade(app_on_fake_bybit, user):
    """A manual long on BTCUSDT, open on the fake Bybit (the app's own exchange)."""
    _, result = commands.place_order(user, OrderRequest(symbol="BTCUSDT", side=Side.BUY, qty=Decimal("0.010"),
                                                        order_link_id=""), exchange=get_exchange(),
                                     sleep=lambda _: None)
    assert result.trade.status == TradeStatus.OPEN
    return result.trade


def test_status_from_a_linked_chat_answers_with_the_open_trades(telegram_bot, linked, open_trade):
    answer = say(telegram_bot, "/status")

    assert answer["parse_mode"] == "HTML"
    text = answer["text"]
    assert "<b>Bot idle</b> · testnet" in text  # no active strategy; the exchange the app trades on
    assert "New entries: allowed" in text
    table = text.split("<pre>")[1].split("</pre>")[0].splitlines()
    assert table[0].split() == ["#", "Symbol", "Side", "uPnL"]
    assert table[1].split()[:3] == [str(open_trade.pk), "BTCUSDT", "long"]
    assert all(len(line) <= 32 for line in table)  # a phone's width
    assert ChatCommand.objects.get().outcome == "done"


def test_forceexit_confirmed_closes_the_trade_once_although_the_tap_arrives_twice(telegram_bot, linked, open_trade,
                                                                                  app_on_fake_bybit):
    question = say(telegram_bot, f"/forceexit {open_trade.pk}")
    assert question["text"].startswith(f"Close trade #{open_trade.pk}, long 0.01 BTCUSDT")
    assert [label for label, _ in telegram_bot.buttons(question)] == ["Confirm", "Cancel"]
    open_trade.refresh_from_db()
    assert open_trade.status == TradeStatus.OPEN  # asking changes nothing

    answers = tap(telegram_bot, question, "Confirm", times=2)  # one tap, delivered twice

    assert [answer["text"] for answer in answers] == ["Done.", "Already answered."]
    open_trade.refresh_from_db()
    assert open_trade.status == TradeStatus.CLOSED
    assert [order["side"] for order in app_on_fake_bybit.orders_received] == ["Buy", "Sell"]  # one close, not two
    [edit] = telegram_bot.edits  # the question now says what happened
    assert edit["message_id"] == question["message_id"]
    assert edit["text"].startswith(f"#{open_trade.pk} BTCUSDT closed at ")
    assert list(ChatCommand.objects.order_by("id").values_list("text", "outcome")) == [
        (f"/forceexit {open_trade.pk}", "asked"), (f"confirm /forceexit {open_trade.pk}", "done"),
        ("[button ok]", "refused")]


def test_the_same_from_an_unlinked_chat_changes_nothing(telegram_bot, linked, open_trade, app_on_fake_bybit, caplog):
    question = say(telegram_bot, f"/forceexit {open_trade.pk}")  # the linked chat asks ...
    refused = say(telegram_bot, f"/forceexit {open_trade.pk}", chat_id=STRANGER_CHAT_ID, username="mallory")
    assert refused["text"].startswith(f"Not authorized: this chat ({STRANGER_CHAT_ID}) is not linked")
    assert refused["reply_markup"] is None  # nothing to confirm

    # ... and the stranger replays the linked chat's Confirm into their own chat.
    [answer] = tap(telegram_bot, question, "Confirm", chat_id=STRANGER_CHAT_ID)

    assert answer["text"] == "Not authorized."
    open_trade.refresh_from_db()
    assert open_trade.status == TradeStatus.OPEN
    assert [order["side"] for order in app_on_fake_bybit.orders_received] == ["Buy"]
    assert Confirmation.objects.get().used_at is None  # still the linked chat's to answer
    assert telegram_bot.edits == []
    strangers = ChatCommand.objects.filter(chat_id=STRANGER_CHAT_ID)
    assert set(strangers.values_list("outcome", flat=True)) == {"not authorized"}
    assert strangers.count() == 2 and not strangers.filter(user__isnull=False).exists()
    warned = [record for record in caplog.records if record.getMessage() == "chat command refused: chat not linked"]
    assert [record.chat_id for record in warned] == [STRANGER_CHAT_ID, STRANGER_CHAT_ID]


@pytest.fixture
def replay(transactional_db):
    """The paper exchange over the bundled candles, from 2026-04-01 12:09 (replay minutes set by the test)."""
    clock = SetClock()
    anchor = clock.now
    market = ReplayMarketData(django_settings.CANDLE_DATA_DIR, anchor=anchor, now=clock)
    exchange = PaperExchange(market, initial_balance=Decimal("10000"))
    return exchange, lambda minutes: setattr(clock, "now", anchor + timedelta(minutes=minutes))


def test_stopentry_stops_new_entries_in_the_next_cycle_while_an_open_trades_stop_still_works(
        telegram_bot, linked, replay, make_strategy):
    exchange, at_minute = replay
    cycle = TradingCycle(exchange=exchange, sleep=lambda _: None)
    tight = {"type": "trend_following", "timeframe": "1", "stop_loss_percentage": Decimal("0.3"),
             "take_profit_percentage": Decimal("0.3")}
    sol, eth = make_strategy(symbols=["SOLUSDT"], **tight), make_strategy(symbols=["ETHUSDT"], **tight)
    at_minute(2.5)  # SOL's 12:10 candle closes with an EMA 9/21 cross up
    cycle.run([sol])
    sol_trade = Trade.objects.get()
    assert sol_trade.status == TradeStatus.OPEN
    at_minute(7.5)  # ETH's 12:15 candle signals LONG: with entries allowed, the bot would buy
    TradingCycle(exchange=exchange, sleep=lambda _: None, dry_run=True).run([eth])
    assert Decision.objects.get(strategy=eth).outcome == "dry_run"

    question = say(telegram_bot, "/stopentry news at 14:30")
    tap(telegram_bot, question, "Confirm")
    assert telegram_bot.edits[-1]["text"].startswith("New entries stopped")
    assert bot_status()["entries_stopped"] == "news at 14:30 (by trader)"

    report = cycle.run([sol, eth])  # the next cycle

    decision = Decision.objects.get(strategy=eth)
    assert (decision.action, decision.outcome) == ("LONG", "skipped")
    assert decision.detail == "entries stopped: news at 14:30 (by trader)"
    assert report.orders == 0 and list(Trade.objects.all()) == [sol_trade]
    at_minute(27.5)  # SOL fell through the stop meanwhile: the exchange's stop closes the trade
    assert reconcile(exchange).closed == [sol_trade]
    sol_trade.refresh_from_db()
    assert (sol_trade.status, sol_trade.status_reason) == (TradeStatus.CLOSED, "stop-loss hit")

    assert say(telegram_bot, "/startentry")["text"] == "New entries allowed again from the next cycle."
    assert bot_status()["entries_stopped"] is None
