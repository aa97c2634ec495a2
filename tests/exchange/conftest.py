import uuid
from decimal import Decimal

import pytest

from exchange.paper import PaperExchange
from tests.exchange.market import ManualMarket


@pytest.fixture
def market():
    return ManualMarket()


@pytest.fixture
def paper(db, market):
    """A paper exchange on a hand-moved market: 10,000 USDT, 0.055% fee, 2 bps slippage."""
    return PaperExchange(market, account=f"test-{uuid.uuid4().hex[:8]}", initial_balance=Decimal("10000"),
                         fee_rate=Decimal("0.00055"), slippage_bps=Decimal("2"))


@pytest.fixture
def api_client(django_user_model):
    """Logged in as a superuser (every permission: tests/security/test_permissions.py covers the others) without a
    password (hashing one costs most of a second per test)."""
    from rest_framework.test import APIClient

    from core.models import OperatorSettings

    user = django_user_model.objects.create_superuser("exchange-tester", password=None)
    OperatorSettings.objects.create(user=user, live_trading_enabled=True)  # the bybit venue is testnet
    client = APIClient()
    client.force_authenticate(user)
    return client
