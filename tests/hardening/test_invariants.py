"""The invariant checker sees what it is there to see: the fault table's zeros mean something."""

from decimal import Decimal

import pytest

from market.errors import OrderRejectedError
from market.types import OrderRequest, Side
from tests.hardening.faults import no_sleep
from tests.hardening.invariants import check
from tests.hardening.scenario import START_BALANCE, make_cycle, open_market
from trades.models import Trade, TradeStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def traded(fake):
    """A quiet cycle: two protected positions, two open trades."""
    import random

    exchange = fake.exchange(sleep=no_sleep)
    make_cycle(exchange).run([open_market(fake, random.Random(7))])
    return exchange


def test_a_quiet_cycle_agrees(fake, traded):
    findings = check(fake, START_BALANCE)
    assert findings.agree and findings.orders == 2 and findings.lines() == []


def test_an_order_link_id_sent_twice_is_a_duplicate(fake, traded):
    body = dict(fake.creates_sent()[0])
    link = body["orderLinkId"]
    with pytest.raises(OrderRejectedError):  # the exchange refuses it; sending it was the mistake
        traded.http.call("place_order", idempotent=False, **body)
    assert check(fake, START_BALANCE).duplicates == [f"orderLinkId {link} was sent 2 times"]


def test_two_opening_orders_for_one_decision_are_duplicates_whatever_their_side(fake, traded):
    trade = Trade.objects.get(symbol="BTCUSDT")
    other = trade.order_link_id[:-1] + ("S" if trade.order_link_id.endswith("L") else "L")
    traded.place_order(OrderRequest(symbol="SOLUSDT", side=Side.BUY, qty=Decimal("1"), order_link_id=other))
    findings = check(fake, START_BALANCE)
    assert f"2 opening orders for {trade.order_link_id[:-2]}" in findings.duplicates


def test_an_order_without_a_trade_row_is_lost(fake, traded):
    traded.place_order(OrderRequest(symbol="SOLUSDT", side=Side.BUY, qty=Decimal("1"), order_link_id="tb-99-x-1-L"))
    findings = check(fake, START_BALANCE)
    assert findings.lost == ["order tb-99-x-1-L (Filled) has 0 trade rows"]
    assert any("SOLUSDT" in line for line in findings.mismatches)  # and its position is nobody's
    assert not findings.agree


def test_a_filled_order_whose_trade_says_failed_is_lost(fake, traded):
    trade = Trade.objects.get(symbol="ETHUSDT")
    Trade.objects.filter(pk=trade.pk).update(status=TradeStatus.FAILED, status_reason="it said so")
    assert check(fake, START_BALANCE).lost == [
        f"order {trade.order_link_id} filled but its trade says failed: it said so"]


def test_money_that_the_trades_do_not_explain_is_a_mismatch(fake, traded):
    fake.state.wallet += Decimal("0.01")
    [line] = check(fake, START_BALANCE).mismatches
    assert line.startswith("wallet ") and "off by 0.0100" in line


def test_a_position_without_a_stop_loss_and_a_pending_trade_keep_them_from_agreeing(fake, traded):
    fake.state.positions["BTCUSDT"].stop_loss = None
    Trade.objects.filter(symbol="ETHUSDT").update(status=TradeStatus.PENDING)
    findings = check(fake, START_BALANCE)
    assert findings.safe and not findings.agree
    assert len(findings.unprotected) == 1 and len(findings.pending) == 1
