"""The extra exits live, at the wire: the real pybit client through ``BybitExchange`` against the fake Bybit.

Bybit trails natively (``trailingStop``: a distance in price, ``activePrice``: where trailing starts) and takes
partial take-profits in its Partial TP/SL mode (``tpSize``). The bot sends them once the entry is protected; the
exchange moves the stop; the reconciler makes the trade say what the exchange says.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from exchange.factory import get_exchange
from trades.execution import execute_entry, execute_exit
from trades.models import Trade, TradeStatus
from trades.reconcile import reconcile
from trades.risk import RiskParams

D = Decimal
SYMBOL = "BTCUSDT"


@pytest.fixture
def enter(app_on_fake_bybit, make_strategy, transactional_db):
    fake = app_on_fake_bybit
    fake.set_price(SYMBOL, "60000")

    def open_trade(**exits) -> Trade:
        strategy = make_strategy(symbols=[SYMBOL], stop_loss_percentage=D("1"), take_profit_percentage=D("2"),
                                 **exits)
        trade = Trade.objects.create(strategy=strategy, symbol=SYMBOL, side="Buy", quantity=D("0.010"),
                                     order_link_id=f"tb-wire-exits-{strategy.pk}", status=TradeStatus.PENDING)
        exchange = get_exchange()
        result = execute_entry(trade, exchange=exchange, params=RiskParams.from_strategy(strategy),
                               rules=exchange.get_instrument(SYMBOL), sleep=lambda _: None)
        assert result.outcome == "open"
        trade.refresh_from_db()
        return trade

    return open_trade


def exchange_stop(fake) -> Decimal | None:
    with fake.state.lock:
        return fake.state.positions[SYMBOL].stop_loss


def test_a_trailing_stop_is_sent_trails_on_the_exchange_and_the_trade_follows_it(enter, app_on_fake_bybit):
    fake = app_on_fake_bybit
    trade = enter(trailing_stop_percentage=D("0.5"), trailing_activation_percentage=D("0.5"))
    [sent] = [r.body for r in fake.requests_to("/v5/position/trading-stop")]
    # Filled at 60000 (the fake does not slip): stop 59400, take-profit 61200, trail 300 from 60300 on.
    assert (sent["tpslMode"], D(sent["stopLoss"]), D(sent["takeProfit"])) == ("Full", D("59400"), D("61200"))
    assert (D(sent["trailingStop"]), D(sent["activePrice"])) == (D("300"), D("60300"))
    assert trade.stop_loss == D("59400") == exchange_stop(fake)

    for price in ("60200", "60500", "60800", "60700"):  # activated at 60500 -> 60200; 60800 -> 60500; holds
        fake.set_price(SYMBOL, price)
    assert exchange_stop(fake) == D("60500")
    report = reconcile(get_exchange())
    trade.refresh_from_db()
    assert not report.findings and trade.stop_loss == exchange_stop(fake) == D("60500")
    assert trade.status == TradeStatus.OPEN

    fake.set_price(SYMBOL, "60450")  # through the trailed stop: the exchange closes the position at 60500
    report = reconcile(get_exchange())
    trade.refresh_from_db()
    assert report.closed == [trade] and not report.findings
    assert (trade.status, trade.exit_price, trade.status_reason) == (TradeStatus.CLOSED, D("60500"), "stop-loss hit")
    fee_in, fee_out = D("0.01") * D("60000") * D("0.00055"), D("0.01") * D("60500") * D("0.00055")
    assert trade.realized_pnl == D("5") - fee_in - fee_out


def test_partial_take_profits_are_sent_in_partial_mode_and_a_partly_taken_trade_is_no_mismatch(
        enter, app_on_fake_bybit):
    fake = app_on_fake_bybit
    trade = enter(take_profit_targets=[{"percent": "0.5", "share": "0.5"}, {"percent": "1", "share": "0.5"}])
    full, *partials = [r.body for r in fake.requests_to("/v5/position/trading-stop")]
    assert "takeProfit" not in full  # the targets replace the one take-profit
    assert [(p["tpslMode"], D(p["takeProfit"]), D(p["tpSize"])) for p in partials] == [
        ("Partial", D("60300"), D("0.005")), ("Partial", D("60600"), D("0.005"))]

    fake.set_price(SYMBOL, "60350")  # the first target: half the position
    report = reconcile(get_exchange())
    trade.refresh_from_db()
    assert not report.findings and trade.status == TradeStatus.OPEN
    # The trade says what the exchange holds, and what the part made.
    assert fake.state.positions[SYMBOL].size == D("0.005") == trade.open_quantity
    assert (trade.closed_quantity, trade.partial_gross) == (D("0.005"), D("0.005") * D("300"))
    assert trade.partial_fees == D("0.005") * D("60300") * D("0.00055")
    assert not reconcile(get_exchange()).findings  # seen again: counted once
    trade.refresh_from_db()
    assert trade.closed_quantity == D("0.005")

    fake.set_price(SYMBOL, "60650")  # the second: the rest
    report = reconcile(get_exchange())
    trade.refresh_from_db()
    assert report.closed == [trade] and trade.status == TradeStatus.CLOSED
    gross = D("0.005") * D("300") + D("0.005") * D("600")
    fees = D("0.01") * D("60000") * D("0.00055") + D("0.005") * (D("60300") + D("60600")) * D("0.00055")
    assert trade.realized_pnl == gross - fees


def test_a_position_that_lost_its_stop_is_protected_again_with_its_trail_and_no_full_take_profit(
        enter, app_on_fake_bybit):
    fake = app_on_fake_bybit
    trade = enter(trailing_stop_percentage=D("0.5"),
                  take_profit_targets=[{"percent": "0.5", "share": "0.5"}, {"percent": "1", "share": "0.5"}])
    with fake.state.lock:  # the stop is gone on the exchange (cancelled by hand, say); the targets still rest
        position = fake.state.positions[SYMBOL]
        position.stop_loss = position.trailing = None
    Trade.objects.filter(pk=trade.pk).update(executed_at=trade.executed_at - timedelta(minutes=10))
    sent_before = len(fake.requests_to("/v5/position/trading-stop"))
    report = reconcile(get_exchange())
    trade.refresh_from_db()
    [again] = [r.body for r in fake.requests_to("/v5/position/trading-stop")][sent_before:]
    # From the 60000 fill: stop 59400 and a 300 trail; no full take-profit, which would close it all at 60300.
    assert (D(again["stopLoss"]), D(again["trailingStop"]), "takeProfit" in again) == (D("59400"), D("300"), False)
    # Trailing from now (no activation price): the exchange moved the stop to 60000 - 300 at once; the trade says so.
    assert report.protected == [trade] and trade.stop_loss == exchange_stop(fake) == D("59700")
    assert trade.take_profit is None


def test_the_rest_of_a_partly_taken_trade_closed_by_the_bot_counts_the_parts_pnl_and_fees(enter, app_on_fake_bybit):
    fake = app_on_fake_bybit
    trade = enter(take_profit_targets=[{"percent": "0.5", "share": "0.5"}, {"percent": "1", "share": "0.5"}])
    fake.set_price(SYMBOL, "60350")  # the first target takes half at 60300
    reconcile(get_exchange())
    trade.refresh_from_db()
    fake.set_price(SYMBOL, "60400")
    result = execute_exit(trade, exchange=get_exchange(), reason="exit signal: done", sleep=lambda _: None)
    trade.refresh_from_db()
    assert result.outcome == TradeStatus.CLOSED and fake.state.positions[SYMBOL].size == 0
    gross = D("0.005") * D("300") + D("0.005") * D("400")
    fees = D("0.01") * D("60000") * D("0.00055") + D("0.005") * (D("60300") + D("60400")) * D("0.00055")
    assert (trade.realized_pnl, trade.fees) == (gross - fees, fees)
