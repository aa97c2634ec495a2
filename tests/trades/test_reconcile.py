"""The database catches up with the exchange: lost answers, stop-loss exits, strangers' positions."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from market.types import OrderRequest, Side
from trades.models import Trade, TradeStatus
from trades.reconcile import reconcile


def test_an_order_whose_answer_was_lost_is_recorded_once_by_its_order_link_id(long_signal, make_cycle, fake_bybit,
                                                                             bybit):
    strategy, _ = long_signal
    fake_bybit.lose_next_order_response("disconnect")
    # The answer never arrives, and the first lookups see nothing yet (order placement is asynchronous).
    fake_bybit.fail(times=30, status=502, path="/v5/order/realtime")
    make_cycle().run([strategy])
    trade = Trade.objects.get()
    assert trade.status == TradeStatus.PENDING
    assert "reconciling by orderLinkId" in trade.status_reason

    fake_bybit.clear_faults()
    report = reconcile(bybit, sleep=lambda seconds: None)
    make_cycle().run([strategy])  # the next cycle: the same decision, nothing new

    trade.refresh_from_db()
    assert report.opened == [trade]
    assert trade.status == TradeStatus.OPEN and trade.stop_loss is not None
    assert len(fake_bybit.orders_received) == 1
    assert Trade.objects.count() == 1


def test_a_stop_loss_hit_closes_the_trade_with_the_exchange_pnl(long_signal, make_cycle, fake_bybit, bybit):
    strategy, _ = long_signal
    make_cycle().run([strategy])
    trade = Trade.objects.get()
    fake_bybit.set_price("BTCUSDT", trade.stop_loss - Decimal("50"))  # the stop triggers on the exchange

    report = reconcile(bybit)

    trade.refresh_from_db()
    assert report.closed == [trade]
    assert trade.status == TradeStatus.CLOSED
    assert trade.exit_price == trade.stop_loss
    assert trade.status_reason == "stop-loss hit"
    expected = (trade.stop_loss - trade.price) * trade.quantity - trade.fees
    assert abs(trade.realized_pnl - expected) < Decimal("0.0001")
    assert trade.fees > 0 and trade.closed_at is not None


def test_a_take_profit_hit_closes_the_trade_in_profit(long_signal, make_cycle, fake_bybit, bybit):
    strategy, _ = long_signal
    make_cycle().run([strategy])
    trade = Trade.objects.get()
    fake_bybit.set_price("BTCUSDT", trade.take_profit + Decimal("10"))
    reconcile(bybit)
    trade.refresh_from_db()
    assert (trade.status, trade.status_reason) == (TradeStatus.CLOSED, "take-profit hit")
    assert trade.realized_pnl > 0


def test_an_order_that_never_reached_the_exchange_fails_after_the_grace_period(bybit, transactional_db):
    trade = Trade.objects.create(symbol="ETHUSDT", side="Buy", quantity=Decimal("0.1"), order_link_id="tb-never-sent")
    assert reconcile(bybit).failed == []  # too early to tell
    report = reconcile(bybit, now=timezone.now() + timedelta(minutes=2))
    trade.refresh_from_db()
    assert report.failed == [trade]
    assert trade.status_reason == "the order never reached the exchange (no order with this orderLinkId)"


def test_a_position_nobody_opened_is_reported_not_adopted(bybit, fake_bybit, transactional_db):
    bybit.place_order(OrderRequest(symbol="SOLUSDT", side=Side.SELL, qty=Decimal("1"), order_link_id="by-hand-1"))
    report = reconcile(bybit)
    assert report.unknown_positions == [
        "SOLUSDT: a Sell position of 1 that no trade of the bot opened (left alone)"]
    assert not Trade.objects.exists()
