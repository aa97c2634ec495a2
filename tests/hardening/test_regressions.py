"""Bugs the fault suite found, pinned down one by one (each failed before its fix)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dashboard.market_stream import MarketStreamer
from exchange.base import Subscription
from tests.fakes.scenarios import serve, signal_window
from tests.hardening.chaos import TRADING_STOP
from tests.hardening.faults import no_sleep
from tests.hardening.scenario import make_cycle
from trades.models import Trade, TradeStatus
from trades.reconcile import reconcile

ATTEMPTS = 5  # the exchange layer's retry policy: a burst this long defeats it


@pytest.fixture
def exchange(fake):
    return fake.exchange(sleep=no_sleep)


@pytest.fixture
def naked_position(fake, exchange, make_strategy, transactional_db):
    """A cycle whose stop-loss is refused, and whose close at once then cannot even read the position."""
    candles, _ = signal_window(action="LONG", strategy_type="trend_following", symbol="BTCUSDT", interval="1")
    serve(fake, "BTCUSDT", "1", candles)
    strategy = make_strategy(type="trend_following", symbols=["BTCUSDT"], timeframe="1", leverage=Decimal("5"))
    fake.fail(times=ATTEMPTS, status=503, path=TRADING_STOP)
    fake.on_request(lambda: fake.fail(times=ATTEMPTS, status=503, path="/v5/position/list"), path=TRADING_STOP,
                    nth=ATTEMPTS)
    report = make_cycle(exchange).run([strategy])
    return report, Trade.objects.get()


def test_a_cycle_that_can_neither_protect_nor_close_a_position_ends_normally_with_the_trade_open(fake,
                                                                                                naked_position):
    report, trade = naked_position
    assert trade.status == TradeStatus.OPEN
    assert "nor the position closed" in report.pairs[0].detail  # before: the error ended the whole cycle
    assert fake.state.positions["BTCUSDT"].size == trade.quantity
    assert fake.state.positions["BTCUSDT"].stop_loss is None


def test_the_reconciler_sets_the_missing_stop_loss_from_the_fill_price(fake, exchange, naked_position):
    _, trade = naked_position
    assert reconcile(exchange, sleep=no_sleep).protected == []  # just filled: its cycle may still be setting it

    report = reconcile(exchange, now=timezone.now() + timedelta(minutes=1), sleep=no_sleep)

    trade.refresh_from_db()
    assert report.protected == [trade] and trade.status == TradeStatus.OPEN
    assert trade.stop_loss == (trade.price * Decimal("0.99")).quantize(Decimal("0.1"))
    assert fake.state.positions["BTCUSDT"].stop_loss == trade.stop_loss
    assert fake.state.positions["BTCUSDT"].take_profit == trade.take_profit


def test_the_reconciler_closes_the_position_if_the_stop_loss_is_still_refused(fake, exchange, naked_position):
    _, trade = naked_position
    fake.fail(times=ATTEMPTS, status=503, path=TRADING_STOP)

    report = reconcile(exchange, now=timezone.now() + timedelta(minutes=1), sleep=no_sleep)

    trade.refresh_from_db()
    assert report.closed == [trade] and trade.status == TradeStatus.CLOSED
    assert "stop-loss could not be set" in trade.status_reason
    assert not fake.state.positions["BTCUSDT"].size
    assert [order["reduceOnly"] for order in fake.orders_received] == [False, True]


class StreamingExchange:
    """The two calls ``MarketStreamer`` makes, answered from memory: each subscription's liveness is ours
    to set, and a subscribe can be made to fail (pybit raising when the stream cannot be reached)."""

    name = "stub"

    def __init__(self):
        self.subscriptions: list[Subscription] = []
        self.dead: set[int] = set()
        self.refuse_next = False

    def get_instrument(self, symbol):
        return None

    def subscribe(self, symbols, on_ticker):
        if self.refuse_next:
            self.refuse_next = False
            raise ConnectionError("WebSocket connection failed. Too many connection attempts.")
        number = len(self.subscriptions)
        subscription = Subscription(list(symbols), [f"tickers.{s}" for s in symbols],
                                    _alive=lambda: number not in self.dead)
        self.subscriptions.append(subscription)
        return subscription


def test_a_price_stream_that_gave_up_is_subscribed_again():
    exchange = StreamingExchange()
    streamer = MarketStreamer(exchange, publish=lambda ticker, source: None)
    streamer.follow(["BTCUSDT"])
    exchange.dead.add(0)  # pybit gave up after failed reconnects (before: streamed nothing, forever)

    streamer.follow(["BTCUSDT"])  # dead once may be a reconnect in progress
    assert len(exchange.subscriptions) == 1
    streamer.follow(["BTCUSDT"])

    assert len(exchange.subscriptions) == 2 and streamer.subscription is exchange.subscriptions[1]
    assert streamer.symbols == ["BTCUSDT"]


def test_a_subscribe_that_failed_is_tried_again_at_the_next_refresh():
    exchange = StreamingExchange()
    streamer = MarketStreamer(exchange, publish=lambda ticker, source: None)
    exchange.refuse_next = True
    with pytest.raises(ConnectionError):
        streamer.follow(["BTCUSDT"])

    streamer.follow(["BTCUSDT"])  # before: the symbols counted as followed, and nothing was streamed

    assert len(exchange.subscriptions) == 1 and streamer.symbols == ["BTCUSDT"]
