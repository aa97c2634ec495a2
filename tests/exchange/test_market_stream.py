"""Live prices: the paper ticker stream, the per-symbol throttle, and ``manage.py stream_market`` end to end."""

import json
import signal
import threading
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from core.events import DASHBOARD_GROUP
from dashboard.market_stream import MarketStreamer, wanted_symbols
from exchange.models import MarketSubscription
from market.types import Ticker
from tests.exchange.market import START
from tests.helpers import ManagedProcess, wait_until


def test_the_paper_exchange_streams_prices_from_a_thread_until_closed(paper, market):
    paper.poll_interval = 0.01
    seen, got_two = [], threading.Event()

    def on_ticker(ticker):
        seen.append(ticker)
        if len(seen) >= 2:
            got_two.set()

    subscription = paper.subscribe(["BTCUSDT"], on_ticker)
    market.prices["BTCUSDT"] = Decimal("60001")
    assert got_two.wait(5)
    subscription.close()
    count = len(seen)
    assert {t.symbol for t in seen} == {"BTCUSDT"} and seen[-1].last_price == Decimal("60001")
    assert subscription.topics == ["tickers.BTCUSDT"]
    threading.Event().wait(0.05)
    assert len(seen) == count  # nothing after close


def test_each_symbol_is_published_at_most_once_per_interval_with_its_newest_price(paper):
    published, now = [], [100.0]
    streamer = MarketStreamer(paper, min_interval=1.0, publish=lambda t, source: published.append(t),
                              clock=lambda: now[0])
    for price in ("1", "2", "3"):
        streamer.on_ticker(Ticker("BTCUSDT", Decimal(price), START))
    streamer.on_ticker(Ticker("ETHUSDT", Decimal("9"), START))
    assert streamer.flush() == 2 and [t.last_price for t in published] == [Decimal("3"), Decimal("9")]
    streamer.on_ticker(Ticker("BTCUSDT", Decimal("4"), START))
    now[0] += 0.5
    assert streamer.flush() == 0
    now[0] += 0.5
    assert streamer.flush() == 1 and published[-1].last_price == Decimal("4")


def test_it_follows_subscribed_and_active_strategy_symbols_and_skips_unlisted_ones(paper, make_strategy):
    MarketSubscription.objects.create(symbol="ETHUSDT")
    MarketSubscription.objects.create(symbol="DOGEUSDT")
    make_strategy(symbols=["BTCUSDT", "SOLUSDT"])
    make_strategy(symbols=["XRPUSDT"], is_active=False)
    assert wanted_symbols() == ["BTCUSDT", "DOGEUSDT", "ETHUSDT", "SOLUSDT"]
    streamer = MarketStreamer(paper)
    streamer.follow(wanted_symbols())
    try:
        assert streamer.symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]  # the test market has no DOGE
        subscription = streamer.subscription
        streamer.follow(wanted_symbols())
        assert streamer.subscription is subscription  # unchanged set: same stream
    finally:
        streamer.close()


@pytest.mark.slow
def test_stream_market_publishes_market_updates_to_the_dashboard_and_stops_on_sigterm(database_url_of_test_db,
                                                                                     tmp_path):
    import os

    MarketSubscription.objects.create(symbol="BTCUSDT")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(DASHBOARD_GROUP, channel)
    env = dict(os.environ, DATABASE_URL=database_url_of_test_db, TRADEBOT_DATA_DIR=str(tmp_path),
               EXCHANGE_MODE="paper", MARKET_DATA="replay")
    process = ManagedProcess(["manage.py", "stream_market", "--refresh", "0.5", "--interval", "0.2"], env=env,
                             name="market").start()
    try:
        wait_until(lambda: "streaming prices of BTCUSDT" in process.output(), timeout=30,
                   what="the stream to start", on_timeout=process.output)
        message = async_to_sync(layer.receive)(channel)
        while message["event"] != "marketUpdate":
            message = async_to_sync(layer.receive)(channel)
        assert message["data"]["symbol"] == "BTCUSDT" and Decimal(message["data"]["price"]) > 0
        assert message["data"]["source"] == "Binance spot replay"
    finally:
        process.send_signal(signal.SIGTERM)
        process.process.wait(20)
        async_to_sync(layer.group_discard)(DASHBOARD_GROUP, channel)
    assert process.process.returncode == 0 and "market stream stopped" in process.output()
    json.dumps(message)  # what reaches a browser is plain JSON
