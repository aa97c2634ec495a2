"""The control bot at the wire: the real python-telegram-bot ``Application`` (``chat.bot``), long polling the fake
Bot API (``tests.fakes.telegram_server``) in a thread with its own event loop, as ``manage.py telegram_bot`` runs it.

A test types into a chat with ``say`` and taps a button with ``tap``; both wait for the bot's answer at the wire.
The bot's database work happens in its own thread, so these tests commit (``transactional_db``).
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from chat.models import TelegramLink
from tests.helpers import wait_until

CHAT_ID = 424242  # a private chat: the person's Telegram id
STRANGER_CHAT_ID = 666


class BotThread:
    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopped: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="telegram-bot", daemon=True)

    def _run(self):
        from chat.bot import build_application, serve

        async def main():
            self.loop, self.stopped = asyncio.get_running_loop(), asyncio.Event()
            await serve(build_application(), self.stopped)

        try:
            asyncio.run(main())
        except BaseException as error:  # noqa: BLE001 - reported by stop()
            self.error = error

    def start(self) -> BotThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.loop is not None and self.stopped is not None:
            self.loop.call_soon_threadsafe(self.stopped.set)
        self.thread.join(15)
        assert not self.thread.is_alive(), "the bot did not stop within 15 s"
        assert self.error is None, f"the bot failed: {self.error!r}"


@pytest.fixture
def bot_settings(settings, fake_telegram):
    """The bot pointed at the fake; no notifications (a closed trade would otherwise queue a Telegram message)."""
    settings.TELEGRAM_COMMANDS_ENABLED = True
    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_BASE_URL = fake_telegram.token, fake_telegram.base_url
    settings.TELEGRAM_POLL_TIMEOUT, settings.TELEGRAM_TIMEOUT = 1, 5
    settings.NOTIFY_EVENTS = []
    return fake_telegram


@pytest.fixture
def telegram_bot(bot_settings, transactional_db):
    """The running control bot; yields the fake Bot API it talks to. Stopped cleanly (and checked) afterwards."""
    bot = BotThread().start()
    wait_until(lambda: bot_settings.called("getUpdates"), timeout=15, what="the bot to poll")
    yield bot_settings
    bot.stop()


@pytest.fixture
def linked(user, transactional_db):
    """CHAT_ID linked to ``user`` (a superuser with live trading on)."""
    return TelegramLink.objects.create(chat_id=CHAT_ID, user=user, chat_name="@trader")


def say(fake, text: str, *, chat_id: int = CHAT_ID, **options) -> dict:
    """Send ``text`` in the chat; returns the bot's answer once it is at the fake."""
    before = len(fake.sent_to(chat_id))
    fake.push_message(chat_id, text, **options)
    wait_until(lambda: len(fake.sent_to(chat_id)) > before, timeout=15, what=f"the bot to answer {text!r}")
    return fake.sent_to(chat_id)[before]


def tap(fake, message: dict, label: str, *, chat_id: int = CHAT_ID, times: int = 1) -> list[dict]:
    """Tap ``message``'s button ``label`` (``times`` deliveries of the tap); returns the bot's answers to them."""
    data = dict(fake.buttons(message))[label]
    before = len(fake.answers)
    for _ in range(times):
        fake.push_button(chat_id, data, message_id=message["message_id"])
    wait_until(lambda: len(fake.answers) >= before + times, timeout=15, what=f"the bot to answer {times} tap(s)")
    return fake.answers[before:]
