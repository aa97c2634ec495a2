"""Recognisable fake secrets never come out: not in a log line (every logger at DEBUG, as the configured handler
writes it), an API answer, a page, an admin page, an error page, the OpenAPI schema or a command's output, while
the exchange, the AI and Telegram fail every way they can."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import reverse

from core.logs import RedactSecretsFilter, StructuredFormatter
from core.notifications.notify import mute_key
from exchange.factory import reset_exchange
from tests.fakes.bybit_server import FakeBybit
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.scenarios import serve, signal_window
from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import REPO, free_port
from tests.security.urlwalk import routes
from trades.models import CycleRun
from trades.tasks import run_active_strategies

pytestmark = pytest.mark.slow

SECRETS = {
    "BYBIT_API_KEY": "CANARYbybitKEY7f3a91c2",
    "BYBIT_API_SECRET": "CANARYbybitSECRETe2d4b8a1",
    "OPENAI_API_KEY": "sk-CANARYopenai5b6c7d8e9f",
    "TELEGRAM_BOT_TOKEN": "123456789:CANARYtelegram9a8b7c6d",
    "EMAIL_URL password": "CANARYsmtpPass3c2d1e",
    "SECRET_KEY": "CANARYdjangoSecretKey-9f8e7d6c5b4a39281706f5e4d3c2b1a0",
}
# What a leak could look like besides the whole value: the token's secret half, the key without its prefix.
FRAGMENTS = {"TELEGRAM_BOT_TOKEN (secret half)": "CANARYtelegram9a8b7c6d", "OPENAI_API_KEY (no prefix)":
             "CANARYopenai5b6c7d8e9f"}


def leaks(text: str) -> list[str]:
    return [name for name, value in {**SECRETS, **FRAGMENTS}.items() if value in text]


@contextmanager
def every_log_line():
    """Every logger at DEBUG, written by handlers set up exactly as settings.LOGGING's console (text and json)."""
    streams = {"text": io.StringIO(), "json": io.StringIO()}
    handlers = []
    for fmt, stream in streams.items():
        handler = logging.StreamHandler(stream)
        handler.addFilter(RedactSecretsFilter())
        handler.setFormatter(StructuredFormatter(fmt))
        handlers.append(handler)
    loggers = [logging.getLogger()] + [logger for logger in logging.root.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger)]
    levels = {logger: logger.level for logger in loggers}
    attached = [logger for logger in loggers if logger is logging.getLogger() or not logger.propagate]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    for logger in attached:
        for handler in handlers:
            logger.addHandler(handler)
    try:
        yield streams
    finally:
        for logger in attached:
            for handler in handlers:
                logger.removeHandler(handler)
        for logger, level in levels.items():
            logger.setLevel(level)


@pytest.fixture
def servers():
    # Bybit checks signatures with another secret than the bot's: every signed call is refused, and Bybit's
    # refusal echoes the signed string, API key included.
    bybit = FakeBybit(api_key=SECRETS["BYBIT_API_KEY"], api_secret="the-server-knows-another-secret").start()
    ai = FakeOpenAI(api_key=SECRETS["OPENAI_API_KEY"]).start()
    telegram = FakeTelegram(token=SECRETS["TELEGRAM_BOT_TOKEN"]).start()
    yield bybit, ai, telegram
    for server in (bybit, ai, telegram):
        server.stop()


@pytest.fixture
def secret_settings(servers, transactional_db):
    bybit, ai, telegram = servers
    smtp_port = free_port()  # nothing listens: every email fails
    overrides = {
        "SECRET_KEY": SECRETS["SECRET_KEY"], "DEBUG": False,
        "EXCHANGE_MODE": "testnet", "BYBIT_API_KEY": SECRETS["BYBIT_API_KEY"],
        "BYBIT_API_SECRET": SECRETS["BYBIT_API_SECRET"], "BYBIT_BASE_URL": bybit.url,
        "OPENAI_API_KEY": SECRETS["OPENAI_API_KEY"], "OPENAI_BASE_URL": ai.url + "/v1", "OPENAI_MAX_RETRIES": 0,
        **telegram.settings, "TELEGRAM_TIMEOUT": 1,
        "EMAIL_NOTIFICATIONS_ENABLED": True, "NOTIFY_EMAIL_TO": ["ops@example.com"],
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": smtp_port, "EMAIL_HOST_USER": "bot", "EMAIL_HOST_PASSWORD": SECRETS["EMAIL_URL password"],
        "EMAIL_TIMEOUT": 1, "CELERY_TASK_ALWAYS_EAGER": True,
        # As settings.py builds it from the environment: each secret setting's value, the key, the SMTP password.
        "SECRET_VALUES": [f"smtp://bot:{SECRETS['EMAIL_URL password']}@127.0.0.1:{smtp_port}", *SECRETS.values()],
    }
    with override_settings(**overrides):
        reset_exchange()
        cache.delete_many([mute_key(kind) for kind in ("exchange", "ai", "cycle")])
        yield servers
    reset_exchange()


def ai_strategy_on_a_long_signal(bybit, make_strategy):
    candles, _ = signal_window(action="LONG", strategy_type="trend_following", symbol="BTCUSDT", interval="1")
    serve(bybit, "BTCUSDT", "1", candles)
    return make_strategy(name="leak-probe", type="trend_following", symbols=["BTCUSDT"], timeframe="1",
                         use_ai_confirmation=True, min_ai_confidence=70, stop_loss_percentage=Decimal("1"),
                         take_profit_percentage=Decimal("2"))


def everything_a_person_can_fetch(client: Client, strategy) -> dict[str, str]:
    """Every GET route (pages, API, admin lists, schema, docs), and the admin page of every stored object."""
    seen = {}
    details = {"strategy-detail": reverse("strategy-detail", kwargs={"pk": strategy.pk}),
               "strategy-page-edit": reverse("strategy-page-edit", kwargs={"pk": strategy.pk})}
    for route in routes():
        if route.path.startswith(("/accounts/logout", "/admin/logout")):
            continue  # would end the session the rest is fetched with
        path = details.get(route.name, route.path)
        response = client.get(path)
        seen[f"GET {path} ({response.status_code})"] = response.content.decode(errors="replace")
    for model in admin.site._registry:
        for obj in model._default_manager.all()[:5]:
            path = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
            response = client.get(path)
            assert response.status_code == 200, path
            seen[f"GET {path}"] = response.content.decode(errors="replace")
    return seen


def test_no_secret_leaves_the_process_while_everything_fails(secret_settings, make_strategy, django_user_model,
                                                             capsys):
    bybit, ai, telegram = secret_settings
    strategy = ai_strategy_on_a_long_signal(bybit, make_strategy)
    superuser = django_user_model.objects.create_superuser("leak-auditor", "a@example.com", "pw-unused")
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    outputs: dict[str, str] = {}

    with every_log_line() as logs:
        # 1. Bybit refuses every signature (auth failure): the cycle, the API's 502s and the reconciler see it.
        telegram.fail(500)
        run_active_strategies.apply(kwargs={"trigger": "leak-auth"})
        balance = client.get("/api/bybit/balance")
        outputs["GET /api/bybit/balance (auth failure)"] = balance.content.decode()
        # 2. Bybit has the right secret again but answers 5xx bursts, then the AI server fails, then talks nonsense.
        bybit.api_secret = SECRETS["BYBIT_API_SECRET"]
        bybit.fail(times=2, status=503)
        ai.fail(500)
        run_active_strategies.apply(kwargs={"trigger": "leak-5xx"})
        ai.malformed("not_json", times=3)
        CycleRun.objects.all().delete()  # the cycle's lease and decision are per candle: ask again
        run_active_strategies.apply(kwargs={"trigger": "leak-ai"})
        # 3. A notification test on both channels: Telegram answers 500, the SMTP server is not there.
        with pytest.raises(CommandError):
            call_command("notify_test")
        # 4. An unexpected error inside a view, with DEBUG off.
        with override_settings(ROOT_URLCONF="tests.security.boom_urls"):
            error_page = client.get("/boom")
        outputs["GET /boom (500)"] = error_page.content.decode()
        # 5. What a person can look at afterwards.
        outputs.update(everything_a_person_can_fetch(client, strategy))

    printed = capsys.readouterr()
    outputs["command output"] = printed.out + printed.err
    outputs["log (text)"], outputs["log (json)"] = logs["text"].getvalue(), logs["json"].getvalue()

    found = {where: leaks(text) for where, text in outputs.items() if leaks(text)}
    assert not found, f"secrets found: {found}"
    # ... and the failures did happen, so there was something to leak.
    log = outputs["log (text)"]
    assert balance.status_code == 502 and "error sign!" in balance.json()["detail"]
    assert "error sign!" in log and "HTTP 503 from Bybit" in log and "AI answer rejected" in log
    assert "/bot***/sendMessage" in log and "email not sent" in outputs["command output"] + log
    assert error_page.status_code == 500 and "Internal Server Error: /boom" in log
    assert sum(1 for where in outputs if where.startswith("GET /admin/")) > 40
    assert any("DEBUG" in line for line in log.splitlines())


def test_a_bot_process_prints_no_secret_at_debug_level(servers, database_url_of_test_db, make_strategy, tmp_path):
    """The same through the environment: ``manage.py run_cycle`` with LOG_LEVEL=DEBUG, every handler as deployed."""
    bybit, ai, telegram = servers
    ai_strategy_on_a_long_signal(bybit, make_strategy)
    env = dict(os.environ, DATABASE_URL=database_url_of_test_db, TRADEBOT_DATA_DIR=str(tmp_path), LOG_LEVEL="DEBUG",
               LOG_FORMAT="json", SECRET_KEY=SECRETS["SECRET_KEY"], EXCHANGE_MODE="testnet",
               BYBIT_API_KEY=SECRETS["BYBIT_API_KEY"], BYBIT_API_SECRET=SECRETS["BYBIT_API_SECRET"],
               BYBIT_BASE_URL=bybit.url, OPENAI_API_KEY=SECRETS["OPENAI_API_KEY"], OPENAI_BASE_URL=ai.url + "/v1",
               EMAIL_URL=f"smtp+tls://bot:{SECRETS['EMAIL_URL password']}@127.0.0.1:{free_port()}",
               **telegram.env, PYTHONUNBUFFERED="1")
    result = subprocess.run([sys.executable, "manage.py", "run_cycle"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120)
    output = result.stdout + result.stderr

    assert "error sign!" in output  # Bybit refused the signature and said so, with the signed string
    assert '"level": "DEBUG"' in output
    assert not leaks(output), leaks(output)
