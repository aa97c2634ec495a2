from decimal import Decimal

import pytest

from tests.fakes.scenarios import serve, signal_window
from trades.cycle import TradingCycle


def no_sleep(seconds):
    """The cycle's fill polling and retries, without waiting."""


@pytest.fixture
def bybit(fake_bybit):
    """A BybitExchange (real pybit client) pointed at the fake Bybit server."""
    return fake_bybit.exchange()


@pytest.fixture
def make_cycle(bybit):
    def make(exchange=None, **options):
        options.setdefault("sleep", no_sleep)
        options.setdefault("max_notional", Decimal("100000"))
        return TradingCycle(exchange=exchange or bybit, **options)

    return make


@pytest.fixture
def long_signal(fake_bybit, make_strategy, transactional_db):
    """An active trend-following strategy on BTCUSDT 1m, and a market whose newest closed candle signals LONG."""
    candles, row = signal_window(action="LONG", strategy_type="trend_following", symbol="BTCUSDT", interval="1")
    serve(fake_bybit, "BTCUSDT", "1", candles)
    strategy = make_strategy(name="trend", type="trend_following", symbols=["BTCUSDT"], timeframe="1",
                             risk_percentage=Decimal("1"), stop_loss_percentage=Decimal("1"),
                             take_profit_percentage=Decimal("2"), max_positions=2)
    return strategy, candles
