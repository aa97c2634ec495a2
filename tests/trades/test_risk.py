from decimal import Decimal

import pytest

from market import fills
from market.types import InstrumentRules, Side
from trades.risk import RiskParams, RiskRejected, daily_loss_breached, plan_entry, position_size, protective_prices

BTC = InstrumentRules(symbol="BTCUSDT", tick_size=Decimal("0.10"), qty_step=Decimal("0.001"),
                      min_qty=Decimal("0.001"), max_qty=Decimal("100"), min_notional=Decimal("5"))
PARAMS = RiskParams(risk_percentage=Decimal("1"), stop_loss_percentage=Decimal("2"),
                    take_profit_percentage=Decimal("4"), leverage=Decimal("1"))


def test_it_puts_the_stop_and_target_on_the_right_side_and_on_the_tick():
    assert protective_prices(Side.BUY, Decimal("70000.03"), PARAMS, BTC) == (Decimal("68600.00"), Decimal("72800.00"))
    assert protective_prices(Side.SELL, Decimal("70000"), PARAMS, BTC) == (Decimal("71400.00"), Decimal("67200.00"))


def test_it_risks_exactly_the_share_of_equity_at_the_stop():
    # 1% of 10,000 = 100 USDT at risk over a 1,400 USDT stop distance -> 0.0714... BTC, rounded down to 0.071.
    qty = position_size(equity=Decimal("10000"), available=Decimal("10000"), entry=Decimal("70000"),
                        stop=Decimal("68600"), params=PARAMS, rules=BTC, max_notional=Decimal("100000"))
    assert qty == Decimal("0.071")
    assert qty * Decimal("1400") <= Decimal("100")


def test_it_caps_the_size_by_margin_and_by_the_largest_order_allowed():
    tight = RiskParams(risk_percentage=Decimal("5"), stop_loss_percentage=Decimal("0.1"),
                       take_profit_percentage=Decimal("1"), leverage=Decimal("2"))
    by_margin = position_size(equity=Decimal("1000"), available=Decimal("1000"), entry=Decimal("70000"),
                              stop=Decimal("69930"), params=tight, rules=BTC, max_notional=Decimal("1000000"))
    assert by_margin * Decimal("70000") <= Decimal("1000") * 2
    by_notional = position_size(equity=Decimal("1000"), available=Decimal("1000"), entry=Decimal("70000"),
                                stop=Decimal("69930"), params=tight, rules=BTC, max_notional=Decimal("700"))
    assert by_notional == Decimal("0.010")


def test_it_refuses_a_size_below_the_minimum_with_the_reason():
    with pytest.raises(RiskRejected, match="below the minimum order 0.001"):
        position_size(equity=Decimal("50"), available=Decimal("50"), entry=Decimal("70000"), stop=Decimal("68600"),
                      params=PARAMS, rules=BTC, max_notional=Decimal("100000"))


def test_it_plans_a_short():
    plan = plan_entry(action="SHORT", price=Decimal("70000"), equity=Decimal("10000"), available=Decimal("10000"),
                      params=PARAMS, rules=BTC, max_notional=Decimal("100000"))
    assert (plan.side, plan.qty, plan.stop_loss, plan.take_profit) == (Side.SELL, Decimal("0.071"),
                                                                       Decimal("71400.00"), Decimal("67200.00"))
    assert plan.risk_amount == Decimal("0.071") * Decimal("1400")


def test_it_detects_a_breached_daily_loss_limit():
    assert daily_loss_breached(Decimal("-300"), Decimal("10000"), Decimal("3")) is True
    assert daily_loss_breached(Decimal("-299"), Decimal("10000"), Decimal("3")) is False
    assert daily_loss_breached(Decimal("500"), Decimal("10000"), Decimal("3")) is False
    assert daily_loss_breached(Decimal("-9000"), Decimal("10000"), None) is False


def test_it_refuses_an_entry_whose_stop_lies_beyond_the_liquidation_price():
    # A strategy saved before the rule: at 50x an isolated position is liquidated about 1.5% away.
    reckless = RiskParams(risk_percentage=Decimal("1"), stop_loss_percentage=Decimal("2"),
                          take_profit_percentage=Decimal("4"), leverage=Decimal("50"))
    with pytest.raises(RiskRejected, match=r"At 50x leverage a position is liquidated about 1.50% from its entry"):
        plan_entry(action="LONG", price=Decimal("70000"), equity=Decimal("10000"), available=Decimal("10000"),
                   params=reckless, rules=BTC, max_notional=Decimal("1000000"))
    careful = RiskParams(risk_percentage=Decimal("1"), stop_loss_percentage=Decimal("1"),
                         take_profit_percentage=Decimal("4"), leverage=Decimal("50"))
    plan = plan_entry(action="SHORT", price=Decimal("70000"), equity=Decimal("10000"), available=Decimal("10000"),
                      params=careful, rules=BTC, max_notional=Decimal("1000000"))
    assert plan.stop_loss == Decimal("70700.00")
    assert plan.stop_loss < fills.liquidation_price("Sell", Decimal("70000"), Decimal("50"))  # the stop fires first
