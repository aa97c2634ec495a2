"""What one entry uses, and when its size was capped (issue 18, defect 8)."""

from decimal import Decimal

from market.instruments import BUNDLED_RULES
from strategies.management.commands.seed_demo import DEMO
from trades.risk import RiskParams, entry_budget, plan_entry

BTC = BUNDLED_RULES["BTCUSDT"]


def params(**values) -> RiskParams:
    defaults = {"risk_percentage": Decimal("1"), "stop_loss_percentage": Decimal("1"),
                "take_profit_percentage": Decimal("2"), "leverage": Decimal("1"), "max_positions": 3}
    return RiskParams(**{**defaults, **values})


def test_an_entry_uses_equity_times_risk_over_the_stop_whatever_the_price():
    budget = entry_budget(Decimal("10000"), params(risk_percentage=Decimal("1"), stop_loss_percentage=Decimal("1"),
                                                   leverage=Decimal("5")))
    assert (budget.risk_amount, budget.notional, budget.margin) == (Decimal("100"), Decimal("10000"), Decimal("2000"))
    assert budget.margin_for_all == Decimal("6000") and budget.fits


def test_the_old_demo_settings_could_not_hold_three_positions_and_the_new_ones_can():
    old = params(risk_percentage=Decimal("1"), stop_loss_percentage=Decimal("0.5"))  # 1x: 20,000 USDT an entry
    assert not entry_budget(Decimal("10000"), old).fits
    for demo in DEMO:
        strategy = params(risk_percentage=demo["risk_percentage"], stop_loss_percentage=demo["stop_loss_percentage"],
                          leverage=demo["leverage"], max_positions=demo["max_positions"])
        assert entry_budget(Decimal("10000"), strategy).fits, demo["name"]


def test_an_entry_shrunk_by_the_margin_says_so():
    capped = plan_entry(action="LONG", price=Decimal("60000"), equity=Decimal("10000"), available=Decimal("3000"),
                        params=params(), rules=BTC, max_notional=Decimal("100000"))
    assert capped.capped_by == "the margin available" and capped.notional <= Decimal("3000")
    whole = plan_entry(action="LONG", price=Decimal("60000"), equity=Decimal("10000"), available=Decimal("10000"),
                       params=params(leverage=Decimal("5")), rules=BTC, max_notional=Decimal("100000"))
    assert whole.capped_by == ""
