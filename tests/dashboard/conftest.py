"""Fixtures of the dashboard tests: the app's exchange pointed at the paper replay or the fake Bybit server,
and trades written straight to the database."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from exchange.factory import get_exchange, reset_exchange


@pytest.fixture
def paper(settings, db):
    """The default of `make run`: the paper exchange on the bundled Binance spot replay."""
    settings.EXCHANGE_MODE, settings.MARKET_DATA = "paper", "replay"
    reset_exchange()
    yield get_exchange()
    reset_exchange()


@pytest.fixture
def bybit(app_on_fake_bybit):
    """The app's exchange is BybitExchange (real pybit) talking to the fake Bybit server."""
    return app_on_fake_bybit


@pytest.fixture
def make_trade(db):
    from trades.models import Trade

    def make(**overrides):
        now = timezone.now()
        values = {"symbol": "BTCUSDT", "side": "Buy", "quantity": Decimal("0.012"), "price": Decimal("65000.5"),
                  "stop_loss": Decimal("64350"), "take_profit": Decimal("66300"),
                  "order_link_id": f"test-{uuid.uuid4().hex[:20]}", "status": "open", "executed_at": now}
        values.update(overrides)
        if values["status"] == "closed":
            values.setdefault("exit_price", Decimal("66300"))
            values.setdefault("realized_pnl", Decimal("14.75"))
            values.setdefault("closed_at", now + timedelta(minutes=5))
        return Trade.objects.create(**values)

    return make
