"""Steps 2-9 against the fake Bybit server through the real pybit client."""

from decimal import Decimal
from threading import Barrier, Thread

from django.db import connection

from market.order_ids import entry_order_link_id
from market.types import Side
from trades.models import Decision, Trade, TradeStatus


def test_a_long_signal_opens_one_protected_position(long_signal, make_cycle, fake_bybit):
    strategy, candles = long_signal
    report = make_cycle().run([strategy])

    assert report.orders == 1
    [order] = fake_bybit.orders_received
    trade = Trade.objects.get()
    assert order["orderLinkId"] == trade.order_link_id == entry_order_link_id(strategy.pk, "BTCUSDT",
                                                                               candles[-1].start, "LONG")
    assert (order["side"], order["orderType"]) == ("Buy", "Market")
    assert trade.status == TradeStatus.OPEN
    assert trade.candle_time == candles[-1].start
    assert trade.price == candles[-1].close  # the fake fills at the last price
    assert trade.fees > 0 and trade.executed_at is not None and trade.order_id
    # 1% of 10,000 USDT at risk over a 1% stop asks for a 10,000 USDT position; at 1x leverage the margin
    # (less a 3% buffer for fees) caps it at 9,700 USDT, rounded down to the 0.001 lot step.
    assert trade.quantity == (Decimal("9700") / trade.price).quantize(Decimal("0.001"), rounding="ROUND_DOWN")
    assert trade.stop_loss == (trade.price * Decimal("0.99")).quantize(Decimal("0.1"))
    assert trade.take_profit == (trade.price * Decimal("1.02")).quantize(Decimal("0.1"))
    [stop] = fake_bybit.requests_to("/v5/position/trading-stop")
    assert Decimal(stop.body["stopLoss"]) == trade.stop_loss and Decimal(stop.body["takeProfit"]) == trade.take_profit
    position = fake_bybit.state.positions["BTCUSDT"]
    assert (position.side, position.size, position.stop_loss) == ("Buy", trade.quantity, trade.stop_loss)
    decision = Decision.objects.get(strategy=strategy, symbol="BTCUSDT")
    assert (decision.action, decision.outcome, decision.trade) == ("LONG", "entered", trade)
    assert any(reason.startswith("EMA 9 crossed above EMA 21") for reason in decision.reasons)
    assert decision.detail.endswith("(size capped by the margin available)")  # smaller than the risk asked: why


def test_running_the_same_decision_again_sends_nothing(long_signal, make_cycle, fake_bybit):
    strategy, _ = long_signal
    make_cycle().run([strategy])
    again = make_cycle().run([strategy])

    assert len(fake_bybit.orders_received) == 1
    assert Trade.objects.count() == 1
    assert "already held" in again.pairs[0].detail


def test_two_cycles_started_at_once_produce_one_order(long_signal, make_cycle, fake_bybit):
    strategy, _ = long_signal
    fake_bybit.latency = 0.05  # both cycles are in flight at the same time
    start = Barrier(2)
    reports = []

    def cycle():
        try:
            start.wait()
            reports.append(make_cycle().run([strategy]))
        finally:
            connection.close()  # this thread's own; left open, it would keep the test database from being dropped

    threads = [Thread(target=cycle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(fake_bybit.orders_received) == 1
    assert Trade.objects.count() == 1
    assert sorted(report.orders for report in reports) == [0, 1]
    loser = next(report for report in reports if report.orders == 0).pairs[0]
    assert loser.outcome == "skipped"
    assert any(words in loser.detail for words in ("another cycle", "already executed", "already held"))


def test_a_rejected_order_leaves_a_failed_trade_with_the_reason(long_signal, make_cycle, fake_bybit):
    strategy, _ = long_signal
    fake_bybit.reject_next_order(110007, "ab not enough for new order")
    report = make_cycle().run([strategy])

    trade = Trade.objects.get()
    assert trade.status == TradeStatus.FAILED
    assert "ab not enough for new order" in trade.status_reason and "110007" in trade.status_reason
    assert report.pairs[0].outcome == "failed"
    assert "BTCUSDT" not in fake_bybit.state.positions or not fake_bybit.state.positions["BTCUSDT"].size


def test_a_position_that_cannot_be_protected_is_closed_at_once(long_signal, make_cycle, fake_bybit):
    strategy, _ = long_signal
    fake_bybit.fail(times=10, status=503, path="/v5/position/trading-stop")
    make_cycle().run([strategy])

    trade = Trade.objects.get()
    assert trade.status == TradeStatus.CLOSED
    assert "stop-loss could not be set" in trade.status_reason
    assert trade.realized_pnl is not None and trade.realized_pnl < 0  # two fees, no price move
    assert not fake_bybit.state.positions["BTCUSDT"].size
    assert [order["side"] for order in fake_bybit.orders_received] == ["Buy", "Sell"]


def test_max_positions_and_held_symbols_stop_new_entries(long_signal, make_cycle, fake_bybit, make_strategy):
    strategy, _ = long_signal
    Trade.objects.create(strategy=strategy, symbol="ETHUSDT", side=Side.BUY, quantity=Decimal("1"),
                         order_link_id="held-eth", status=TradeStatus.OPEN)
    strategy.max_positions = 1
    strategy.save()
    report = make_cycle().run([strategy])

    assert report.orders == 0 and fake_bybit.orders_received == []
    assert report.pairs[0].detail == "max positions reached (1/1)"


def test_a_dry_run_decides_and_sizes_but_sends_nothing(long_signal, make_cycle, fake_bybit):
    strategy, _ = long_signal
    report = make_cycle(dry_run=True).run([strategy])

    assert fake_bybit.orders_received == [] and not Trade.objects.exists()
    assert report.pairs[0].outcome == "dry_run"
    assert report.pairs[0].detail.startswith("would Buy ")
