"""One formatting rule for every figure (issue 18, defect 5): prices to the instrument's tick, money to cents,
percentages to 2 decimals."""

from decimal import Decimal

from dashboard.templatetags.figures import money, percent, price, signed, signed_percent


def test_prices_print_to_the_instruments_tick():
    assert price(Decimal("67123.5"), "BTCUSDT") == "67,123.50"  # tick 0.10
    assert price(Decimal("2399.333"), "ETHUSDT") == "2,399.33"  # tick 0.01
    assert price(Decimal("88.3"), "SOLUSDT") == "88.300"  # tick 0.010
    assert price(Decimal("0.00001234"), "") == "0.00001234"  # unknown instrument: every significant digit
    assert price(None, "BTCUSDT") == "—"


def test_money_is_to_cents_and_percentages_to_two_decimals():
    assert money(Decimal("0.85812345")) == "0.86"
    assert signed(Decimal("-4")) == "\u22124.00"
    assert percent(Decimal("56.256")) == "56.26%"
    assert signed_percent("2.7412") == "+2.74%"
