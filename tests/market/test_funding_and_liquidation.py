"""The perpetual's rules by hand: funding times and payments, isolated-margin liquidation prices."""

from datetime import UTC, datetime
from decimal import Decimal

from market import funding, liquidation


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def test_funding_falls_at_0_8_and_16_utc_for_a_position_opened_before_and_still_open_at_that_time():
    assert funding.times(at(7, 59), at(0, day=2)) == [at(8), at(16), at(0, day=2)]
    assert funding.times(at(8), at(15, 59)) == []  # opened at 08:00 itself: that funding was not its
    assert funding.times(at(7, 59), at(8)) == [at(8)]  # closed inside the 08:00 minute: still held at 08:00


def test_longs_pay_a_positive_rate_and_shorts_receive_it_on_the_value_at_the_mark():
    # 0.5 BTC at a mark of 60,000 is 30,000 USDT; 0.01 % of it is 3 USDT.
    assert funding.payment("Buy", Decimal("0.5"), Decimal("60000"), Decimal("0.0001")) == Decimal("-3.00000000")
    assert funding.payment("Sell", Decimal("0.5"), Decimal("60000"), Decimal("0.0001")) == Decimal("3.00000000")
    assert funding.payment("Buy", Decimal("2"), Decimal("3000.5"), Decimal("-0.00025")) == Decimal("1.50025000")


def test_a_time_without_a_rate_in_the_data_uses_the_assumed_one_and_says_so():
    rates = {1767254400000: Decimal("0.0003")}  # 2026-01-01 08:00 UTC
    assert funding.rate_at(rates, 1767254400000) == (Decimal("0.0003"), False)
    assert funding.rate_at(rates, 1767283200000) == (Decimal("0.0001"), True)
    assert funding.ASSUMED_NOTE == "funding assumed at 0.01 % per 8 h"


def test_the_liquidation_price_is_bybits_simplified_isolated_formula():
    # 10x, MMR 0.5 %: a long is liquidated 9.5 % below its entry, a short 9.5 % above.
    assert liquidation.liquidation_price("Buy", Decimal("60000"), Decimal("10")) == Decimal("54300.000")
    assert liquidation.liquidation_price("Sell", Decimal("60000"), Decimal("10")) == Decimal("65700.000")
    # 50x: 100.03 x 0.985 = 98.52955, rounded up to the tick for a long; x 1.015 = 101.53045, down for a short.
    assert liquidation.liquidation_price("Buy", Decimal("100.03"), Decimal("50"), Decimal("0.01")) == Decimal("98.53")
    assert liquidation.liquidation_price("Sell", Decimal("100.03"), Decimal("50"), Decimal("0.01")) == Decimal("101.53")


def test_the_liquidation_comes_first_only_when_the_stop_is_further_away_or_missing():
    liq = Decimal("98.53")
    assert liquidation.before_stop("Buy", liq, Decimal("95")) and liquidation.before_stop("Buy", liq, None)
    assert not liquidation.before_stop("Buy", liq, Decimal("99"))
    assert liquidation.before_stop("Sell", Decimal("101.53"), Decimal("105"))
    assert not liquidation.before_stop("Sell", Decimal("101.53"), Decimal("101"))
    assert liquidation.reached("Buy", liq, Decimal("98.53"), Decimal("99")) and not liquidation.reached(
        "Buy", liq, Decimal("98.54"), Decimal("99"))
    assert liquidation.reached("Sell", Decimal("101.53"), Decimal("100"), Decimal("101.53"))
