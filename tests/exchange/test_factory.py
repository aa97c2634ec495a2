"""Choosing the exchange from the settings, once per process."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from exchange.bybit import BybitExchange
from exchange.factory import get_exchange, reset_exchange
from exchange.market_data import BybitPublicMarketData
from exchange.paper import PaperExchange
from exchange.replay import ReplayMarketData


@pytest.fixture(autouse=True)
def fresh_factory():
    reset_exchange()
    yield
    reset_exchange()


def test_paper_on_replay_is_the_default_and_is_built_once(settings, db):
    settings.EXCHANGE_MODE, settings.MARKET_DATA = "paper", "replay"
    exchange = get_exchange()
    assert isinstance(exchange, PaperExchange) and isinstance(exchange.market_data, ReplayMarketData)
    assert get_exchange() is exchange
    reset_exchange()
    assert get_exchange() is not exchange


def test_paper_on_bybit_prices_reads_the_public_endpoints(settings, fake_bybit, db):
    settings.EXCHANGE_MODE, settings.MARKET_DATA, settings.BYBIT_BASE_URL = "paper", "bybit", fake_bybit.url
    fake_bybit.set_price("SOLUSDT", "150")
    exchange = get_exchange()
    assert isinstance(exchange.market_data, BybitPublicMarketData)
    assert exchange.get_ticker("SOLUSDT").last_price == 150
    assert len(exchange.get_klines("SOLUSDT", "5", 10)) == 10
    assert not any(request.signed for request in fake_bybit.requests)  # no keys needed


@pytest.mark.parametrize(("mode", "host"), [("testnet", "api-testnet.bybit.com"), ("demo", "api-demo.bybit.com"),
                                            ("live", "api.bybit.com")])
def test_each_bybit_mode_has_its_endpoint_unless_bybit_base_url_overrides_it(settings, mode, host):
    settings.EXCHANGE_MODE, settings.BYBIT_API_KEY, settings.BYBIT_API_SECRET = mode, "key", "secret"
    settings.BYBIT_BASE_URL = ""
    exchange = get_exchange()
    assert isinstance(exchange, BybitExchange) and exchange.http.base_url == f"https://{host}"
    reset_exchange()
    settings.BYBIT_BASE_URL = "http://127.0.0.1:9"
    assert get_exchange().http.session.endpoint == "http://127.0.0.1:9"


def test_live_refuses_to_start_without_keys_and_says_why(settings):
    settings.EXCHANGE_MODE, settings.BYBIT_API_KEY, settings.BYBIT_API_SECRET = "live", "", ""
    with pytest.raises(ImproperlyConfigured, match="live trading needs BYBIT_API_KEY and BYBIT_API_SECRET"):
        get_exchange()
