"""The control bot as a process: ``manage.py telegram_bot`` (supervised by ``runbot``, a compose service), its
settings, and its stopping cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
from io import StringIO

import pytest
import yaml
from django.core.management import call_command

from chat.models import TelegramLink
from tests.chat.conftest import CHAT_ID, BotThread
from tests.helpers import REPO, ManagedProcess, free_port, wait_until
from tradebot.supervisor import bot_parts


def test_runbot_supervises_the_telegram_bot_only_when_commands_are_on():
    def names(**options):
        return [part.name for part in bot_parts(host="127.0.0.1", port=8000, concurrency=1, **options)]

    assert "telegram" not in names()
    parts = {part.name: part for part in bot_parts(host="127.0.0.1", port=8000, concurrency=1, telegram=True)}
    assert parts["telegram"].argv[-2:] == [str(REPO / "manage.py"), "telegram_bot"]


def test_compose_runs_it_as_a_service_that_stays_down_when_commands_are_off(settings):
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["telegram"]
    assert service["command"] == ["python", "manage.py", "telegram_bot"]
    assert service["restart"] == "on-failure" and service["image"] == "tradebot:latest"
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"

    settings.TELEGRAM_COMMANDS_ENABLED = False
    out = StringIO()
    call_command("telegram_bot", stdout=out)  # returns at once: exit 0, which on-failure does not restart
    assert out.getvalue().startswith("Telegram commands are off")


def test_commands_on_without_a_token_stop_start_up_with_one_line():
    env = dict(os.environ, TELEGRAM_COMMANDS_ENABLED="true", TELEGRAM_BOT_TOKEN="", TELEGRAM_ENABLED="false")
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "Configuration error: TELEGRAM_COMMANDS_ENABLED: needs TELEGRAM_BOT_TOKEN"


def test_telegram_out_of_reach_is_waited_for_and_a_refused_token_idles_until_stopped(bot_settings, settings, caplog):
    settings.TELEGRAM_API_BASE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens
    unreachable = BotThread().start()
    wait_until(lambda: "telegram not reachable, trying again in 2 s" in caplog.text, timeout=10,
               what="a second try, after a backoff")
    unreachable.stop()  # during the backoff: stops at once, no error

    settings.TELEGRAM_API_BASE_URL, settings.TELEGRAM_BOT_TOKEN = bot_settings.base_url, "123:not-the-token"
    refused = BotThread().start()
    wait_until(lambda: "Telegram refused TELEGRAM_BOT_TOKEN" in caplog.text, timeout=10, what="the refusal")
    refused.stop()
    assert bot_settings.calls == []  # refused at getMe: it never polled


@pytest.mark.slow
def test_manage_py_telegram_bot_answers_and_stops_cleanly_on_sigterm(fake_telegram, database_url_of_test_db, user,
                                                                      tmp_path):
    TelegramLink.objects.create(chat_id=CHAT_ID, user=user)
    env = dict(os.environ, DATABASE_URL=database_url_of_test_db, TRADEBOT_DATA_DIR=str(tmp_path),
               TELEGRAM_COMMANDS_ENABLED="true", TELEGRAM_BOT_TOKEN=fake_telegram.token,
               TELEGRAM_API_BASE_URL=fake_telegram.base_url, TELEGRAM_POLL_TIMEOUT="1", LOG_LEVEL="DEBUG")
    bot = ManagedProcess(["manage.py", "telegram_bot"], env=env, name="telegram").start()
    try:
        wait_until(lambda: fake_telegram.called("getUpdates"), timeout=30, what="the bot to poll",
                   on_timeout=bot.output)
        assert [command["command"] for command in fake_telegram.called("setMyCommands")[0]["commands"]][:2] == [
            "status", "balance"]  # the menu a phone shows on "/"
        fake_telegram.push_message(CHAT_ID, "/help")
        wait_until(lambda: fake_telegram.sent_to(CHAT_ID), timeout=15, what="the answer", on_timeout=bot.output)
        assert fake_telegram.sent_to(CHAT_ID)[0]["text"].startswith("<b>tradebot commands</b>")

        bot.send_signal(signal.SIGTERM)
        assert bot.process.wait(15) == 0
    finally:
        bot.stop()
    output = bot.output()
    assert "telegram control bot polling" in output and "telegram control bot stopped" in output
    assert fake_telegram.token not in output and fake_telegram.token.split(":")[1] not in output  # even at DEBUG
    assert fake_telegram.pending_updates() == 0  # the last update was confirmed before it stopped
