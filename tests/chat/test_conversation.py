"""The chat commands without the network (``chat.conversation``, what the bot hands each update to): the same
guards as the dashboard, the confirmation step, the audit, and replies that read well on a phone."""

import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from chat import commands, conversation
from chat.models import ChatCommand, Confirmation, TelegramLink
from core.errors import Invalid
from exchange.factory import reset_exchange
from strategies.models import Strategy
from tests.chat.conftest import CHAT_ID
from trades.models import EntrySwitch, Trade, TradeStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(settings):
    settings.EXCHANGE_MODE, settings.MARKET_DATA, settings.NOTIFY_EVENTS = "paper", "replay", []
    reset_exchange()
    yield
    reset_exchange()


@pytest.fixture
def chat_as(user):
    """Link CHAT_ID to a user (the superuser ``trader`` by default) and send it commands."""

    def link(person=None):
        TelegramLink.objects.update_or_create(chat_id=CHAT_ID, defaults={"user": person or user})

        def send(text: str, **options):
            return conversation.on_text(CHAT_ID, text, **options)

        return send

    return link


def confirm(reply, verb="ok"):
    data = dict((label, data) for label, data in reply.buttons)["Confirm" if verb == "ok" else "Cancel"]
    return conversation.on_button(CHAT_ID, data)


def pre_lines(text: str) -> list[str]:
    return [line for block in re.findall(r"<pre>(.*?)</pre>", text, re.S) for line in block.splitlines()]


def test_commands_are_parsed_as_telegram_sends_them():
    assert commands.parse("/Pause@tradebot_bot  BTC scalper") == ("pause", ["BTC", "scalper"])
    with pytest.raises(Invalid, match="Commands start with /"):
        commands.parse("status")


def test_help_lists_every_command_and_start_says_the_same(chat_as):
    send = chat_as()
    text = send("/help").text
    for name in ("status", "balance", "profit", "daily", "trades", "performance", "strategies", "pause", "resume",
                 "stopentry", "startentry", "forceexit", "help"):
        assert f"/{name}" in text
    assert send("/start").text == text


def test_bad_words_are_answered_with_the_usage_and_change_nothing(chat_as):
    send = chat_as()
    assert send("/trades abc").text == "\u26d4 Usage: /trades [count], with a whole number from 1 to 30."
    assert send("/frobnicate").text == "\u26d4 Unknown command /frobnicate. Send /help for the list."
    assert send("/forceexit 99999").text == "\u26d4 There is no trade 99999."
    assert set(ChatCommand.objects.values_list("outcome", flat=True)) == {"refused"}
    assert not Confirmation.objects.exists()


def test_pause_and_resume_a_strategy_by_name_through_the_strategy_commands(chat_as, make_strategy):
    strategy = make_strategy(name="BTC scalper")
    send = chat_as()
    assert send("/pause btc SCALPER").text.startswith("Paused: BTC scalper.")
    strategy.refresh_from_db()
    assert strategy.paused_until_resumed and strategy.pause_reason == "paused from Telegram by trader"
    assert send(f"/resume {strategy.pk}").text.startswith("Resumed: BTC scalper.")
    strategy.refresh_from_db()
    assert strategy.paused_until is None
    assert send(f"/resume {strategy.pk}").text == "\u26d4 BTC scalper is not paused."


def test_pause_all_asks_first_and_pauses_every_running_strategy_once_confirmed(chat_as, make_strategy):
    running = [make_strategy(name="one"), make_strategy(name="two")]
    make_strategy(name="off", is_active=False)
    send = chat_as()
    question = send("/pause all")
    assert question.outcome == "asked" and "Pause all 2 running strategies (one, two)" in question.text
    assert not Strategy.objects.paused(timezone.now()).exists()

    done = confirm(question)
    assert done.text.startswith("Paused: one, two.")
    assert set(Strategy.objects.paused(timezone.now())) == set(running)


def test_a_viewer_may_read_but_not_pause_close_or_stop_entries(chat_as, make_member, make_strategy, paper):
    strategy = make_strategy(name="watched")
    trade = Trade.objects.create(symbol="BTCUSDT", side="Buy", quantity=Decimal("0.01"), price=Decimal("65000"),
                                 status=TradeStatus.OPEN, order_link_id="tb-view-1")
    send = chat_as(make_member("viewer-vic", "viewer"))

    assert send("/strategies").outcome == "done"
    assert "You need the 'Can change strategy' permission" in send("/pause watched").text
    refused_close = confirm(send(f"/forceexit {trade.pk}"))
    refused_stop = confirm(send("/stopentry"))

    assert refused_close.outcome == refused_stop.outcome == "refused"
    assert "You need the 'Can place, close and cancel orders' permission" in refused_close.text
    trade.refresh_from_db()
    strategy.refresh_from_db()
    assert trade.status == TradeStatus.OPEN and strategy.paused_until is None
    assert EntrySwitch.stopped_reason() is None


def test_closing_from_chat_counts_against_the_same_order_rate_limit(chat_as, settings, paper):
    settings.ORDER_RATE_LIMIT = "1/min"
    trade = Trade.objects.create(symbol="BTCUSDT", side="Buy", quantity=Decimal("0.01"), price=Decimal("65000"),
                                 status=TradeStatus.OPEN, order_link_id="tb-rate-1")
    send = chat_as()
    first = confirm(send(f"/forceexit {trade.pk}"))  # the paper account holds no such position: the reconciler's
    assert "no position on the exchange" in first.text

    second = confirm(send(f"/forceexit {trade.pk}"))
    assert second.outcome == "refused"
    assert "Too many order requests: at most 1/min per user (ORDER_RATE_LIMIT)" in second.text


def test_off_paper_the_live_trading_switch_guards_chat_as_it_guards_the_api(chat_as, make_member, open_chat_trade):
    trader = make_member("switched-off", "trader", live=False)
    send = chat_as(trader)
    refused = confirm(send(f"/forceexit {open_chat_trade.pk}"))
    assert refused.outcome == "refused" and "Live trading is switched off for switched-off" in refused.text
    open_chat_trade.refresh_from_db()
    assert open_chat_trade.status == TradeStatus.OPEN


@pytest.fixture
def open_chat_trade(app_on_fake_bybit, user):
    from exchange.factory import get_exchange
    from market.types import OrderRequest, Side
    from trades import commands as trade_commands

    _, result = trade_commands.place_order(user, OrderRequest(symbol="ETHUSDT", side=Side.BUY, qty=Decimal("0.1"),
                                                              order_link_id=""), exchange=get_exchange(),
                                           sleep=lambda _: None)
    return result.trade


def test_an_exchange_that_refuses_is_answered_plainly(chat_as, app_on_fake_bybit, settings):
    settings.BYBIT_API_KEY = "not-the-key"
    reset_exchange()
    reply = chat_as()("/balance")
    assert reply.outcome == "error"
    assert reply.text.startswith("The exchange answered with an error: ")


def test_cancel_or_an_expired_question_runs_nothing(chat_as, paper):
    trade = Trade.objects.create(symbol="BTCUSDT", side="Buy", quantity=Decimal("0.01"), price=Decimal("65000"),
                                 status=TradeStatus.OPEN, order_link_id="tb-cancel-1")
    send = chat_as()
    question = send(f"/forceexit {trade.pk}")
    cancelled = confirm(question, "no")
    assert (cancelled.text, cancelled.toast) == (f"Cancelled: /forceexit {trade.pk}", "Cancelled.")
    assert confirm(question).toast == "Already answered."

    late = send("/stopentry")
    Confirmation.objects.filter(used_at__isnull=True).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = confirm(late)
    assert expired.toast.startswith("Expired: a confirmation is valid for 2 minutes.") and not expired.edit
    trade.refresh_from_db()
    assert trade.status == TradeStatus.OPEN and EntrySwitch.stopped_reason() is None


def test_a_command_sent_while_the_bot_was_down_is_not_run_late(chat_as, make_strategy):
    strategy = make_strategy(name="late")
    reply = chat_as()("/pause late", sent_at=timezone.now() - timedelta(minutes=30))
    assert reply.outcome == "refused" and reply.text.startswith("Ignored /pause late: it was sent at ")
    strategy.refresh_from_db()
    assert strategy.paused_until is None


def test_a_deactivated_users_chat_is_not_authorized(chat_as, django_user_model):
    person = django_user_model.objects.create_user("gone", password=None, is_active=False)
    reply = chat_as(person)("/status")
    assert reply.outcome == "not authorized" and reply.text.startswith("Not authorized")


def test_a_link_code_links_the_chat_it_is_sent_from_once(user):
    out = StringIO()
    call_command("telegram_link_code", user="trader", stdout=out)
    code = out.getvalue().split("/link ")[1].strip()
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)

    assert conversation.on_text(CHAT_ID, "/status").outcome == "not authorized"
    linked = conversation.on_text(CHAT_ID, f"/link {code.lower()}", chat_name="@trader")
    assert linked.text.startswith("Linked: commands from this chat now run as trader")
    assert TelegramLink.user_of(CHAT_ID) == user
    assert conversation.on_text(CHAT_ID, "/status").outcome != "not authorized"
    again = conversation.on_text(777, f"/link {code}")
    assert again.outcome == "refused" and "not valid" in again.text and TelegramLink.user_of(777) is None
    assert code not in " ".join(ChatCommand.objects.values_list("text", flat=True))  # the audit keeps no code


def test_a_group_chat_cannot_be_linked_with_a_code(user):
    code = StringIO()
    call_command("telegram_link_code", user="trader", stdout=code)
    group = conversation.on_text(-100123, code.getvalue().splitlines()[-1], private=False)
    assert group.outcome == "refused" and "not a group" in group.text
    assert TelegramLink.user_of(-100123) is None


def test_the_read_commands_fit_a_phone(chat_as, make_strategy, paper):
    strategy = make_strategy(name="a-strategy-with-a-very-long-name")
    now = timezone.now()
    for index, (symbol, pnl) in enumerate([("BTCUSDT", "12.5"), ("ETHUSDT", "-4.25"), ("BTCUSDT", "7.75")]):
        Trade.objects.create(strategy=strategy, symbol=symbol, side="Buy", quantity=Decimal("0.01"),
                             price=Decimal("65000"), status=TradeStatus.CLOSED, realized_pnl=Decimal(pnl),
                             fees=Decimal("0.5"), exit_price=Decimal("65100"), order_link_id=f"tb-read-{index}",
                             closed_at=now - timedelta(hours=index))
    send = chat_as()
    replies = {name: send(f"/{name}").text for name in ("status", "balance", "profit", "daily", "trades",
                                                         "performance", "strategies")}

    for name, text in replies.items():
        assert all(len(line) <= 32 for line in pre_lines(text)), (name, text)
    assert "Total PnL" in replies["profit"] and "+16.00" in replies["profit"]
    assert "Win rate" in replies["profit"] and "66.67%" in replies["profit"]
    assert "Equity" in replies["balance"] and "10000.00" in replies["balance"]
    assert pre_lines(replies["performance"])[1].split() == ["BTCUSDT", "2", "100%", "+20.25"]
    assert [line.split()[1] for line in pre_lines(replies["trades"])[1:]] == ["BTCUSDT", "ETHUSDT", "BTCUSDT"]
    assert "Total: +16.00 USDT" in replies["daily"]
    assert "a-strategy-with-a-very" in replies["strategies"] and "…" in replies["strategies"]
    assert "No open trades." in replies["status"]


def test_the_admin_links_a_chat_and_makes_a_code_it_shows_once(logged_in_client, user):
    linked = logged_in_client.post("/admin/chat/telegramlink/add/", {"chat_id": "5150", "user": user.pk,
                                                                      "chat_name": "@desk"})
    assert linked.status_code == 302 and TelegramLink.user_of(5150) == user

    made = logged_in_client.post("/admin/chat/linkcode/add/", {"user": user.pk}, follow=True).content.decode()
    code = re.search(r"/link ([A-Z2-9]{5}-[A-Z2-9]{5})", made)[1]
    listing = logged_in_client.get("/admin/chat/linkcode/").content.decode()
    assert code not in listing and code.replace("-", "") not in listing
    assert conversation.on_text(6160, f"/link {code}").text.startswith("Linked")
    audit = logged_in_client.get("/admin/chat/chatcommand/").content.decode()
    assert "/link ***" in audit and code not in audit
