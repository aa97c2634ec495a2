"""Both channels on: Telegram to the loopback fake, email to Django's locmem outbox.

Delivery tasks run in place (``CELERY_TASK_ALWAYS_EAGER``, retries included, their countdowns
skipped) once the test lets on-commit callbacks run; ``test_worker.py`` proves the real thing.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from core.notifications.notify import mute_key
from tests.notifications.factories import OPENED_AT
from trades.models import Trade, TradeStatus

ALL_EVENTS = ["trade_opened", "trade_closed", "strategy_paused", "errors", "reconciliation", "daily_summary"]


@pytest.fixture
def channels_on(settings, fake_telegram):
    for name, value in fake_telegram.settings.items():
        setattr(settings, name, value)
    settings.TELEGRAM_TIMEOUT = 0.3
    settings.EMAIL_NOTIFICATIONS_ENABLED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NOTIFY_EMAIL_TO = ["trader@example.com"]
    settings.DEFAULT_FROM_EMAIL = "bot@example.com"
    settings.NOTIFY_EVENTS = ALL_EVENTS
    settings.TELEGRAM_EVENTS = ALL_EVENTS
    settings.EMAIL_EVENTS = ALL_EVENTS
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return fake_telegram


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed(): ...`` runs what the block queued for after commit, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def unmuted_errors():
    """The error rate limit lives in the shared Redis cache: start and end each test with it open."""
    kinds = ["exchange", "ai"]
    cache.delete_many([mute_key(kind) for kind in kinds])
    yield kinds
    cache.delete_many([mute_key(kind) for kind in kinds])


@pytest.fixture
def open_trade(make_strategy):
    strategy = make_strategy(name="btc-scalper")

    def make(**overrides) -> Trade:
        values = {
            "strategy": strategy, "symbol": "BTCUSDT", "side": "Buy",
            "quantity": Decimal("0.01000000"), "price": Decimal("65000.50000000"),
            "stop_loss": Decimal("64350.00"), "take_profit": Decimal("66300.00"), "confidence": 82,
            "reasoning": "RSI bounced off 28\nand MACD crossed up on rising volume.",
            "order_link_id": "tb-1-btc-20260410T0915-open", "status": TradeStatus.OPEN, "executed_at": OPENED_AT,
            "fees": Decimal("0.36"),
        }
        values.update(overrides)
        return Trade.objects.create(**values)

    return make

