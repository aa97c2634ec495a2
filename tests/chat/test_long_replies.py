"""Replies longer than one Telegram message (4096 characters after the HTML is parsed): sent as several messages,
each valid HTML, the table carried over, nothing lost. The fake Bot API refuses what Telegram refuses."""

import html
import re

from chat.replies import MESSAGE_LIMIT, bold, esc, split_message, table, visible_length
from strategies.models import Strategy
from tests.chat.conftest import say
from tests.helpers import wait_until


def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def test_a_short_reply_is_one_message_untouched():
    text = bold("Strategies") + "\n" + table(["#", "Name"], [(1, "a & b")], right=(0,))
    assert split_message(text) == [text]


def test_a_long_table_is_cut_between_rows_each_part_closing_and_reopening_it():
    rows = [(index, f"SYM{index}USDT", "long", "+1.00") for index in range(400)]
    text = bold("Open trades (400)") + "\n" + table(["#", "Symbol", "Side", "uPnL"], rows, right=(0, 3)) + "\nend"

    parts = split_message(text, limit=1000)

    assert len(parts) == 11
    assert all(visible_length(part) <= 1000 for part in parts)
    assert all(part.count("<pre>") == part.count("</pre>") == 1 for part in parts)
    assert parts[1].startswith("<pre>")  # the table goes on in the next message
    assert parts[-1].endswith("</pre>\nend")
    # Nothing lost, nothing doubled: the parts read together are the reply, line for line.
    assert "\n".join(plain(part) for part in parts).splitlines() == plain(text).splitlines()


def test_a_line_longer_than_a_message_is_cut_inside_and_stays_escaped():
    text = "x" * 10 + "\n" + esc("<&>" * 500)  # replies are HTML: text in them is escaped
    parts = split_message(text, limit=100)
    assert all(visible_length(part) <= 100 for part in parts)
    assert "".join(plain(part) for part in parts[1:]) == "<&>" * 500


def test_strategies_of_a_big_installation_arrive_in_several_messages(telegram_bot, linked, user):
    Strategy.objects.bulk_create(Strategy(name=f"Momentum variant {index:03d} on the majors", type="scalping",
                                          symbols=["BTCUSDT"], timeframe="5") for index in range(300))

    first = say(telegram_bot, "/strategies")
    wait_until(lambda: plain(telegram_bot.sent_to(first["chat_id"])[-1]["text"]).endswith(
        "/pause or /resume with a # or a name."), timeout=15, what="the last part")

    parts = [message["text"] for message in telegram_bot.sent_to(first["chat_id"])]
    assert len(parts) > 1  # each part accepted by the fake, which refuses > 4096 characters or unpaired tags
    assert all(visible_length(part) <= MESSAGE_LIMIT for part in parts)
    names = [line for part in parts for line in plain(part).splitlines() if "Momentum variant" in line]
    assert len(names) == 300
