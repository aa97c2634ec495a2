"""The fill model as pure functions (shared with the backtester)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market import fills
from market.fills import PositionState, apply_fill, stop_or_take_profit

D = Decimal


def test_it_moves_a_market_buy_up_and_a_market_sell_down_by_the_slippage_rounded_against_the_taker():
    assert fills.slipped_price("Buy", D("60000"), D("2"), D("0.1")) == D("60012.0")
    assert fills.slipped_price("Sell", D("60000"), D("2"), D("0.1")) == D("59988.0")
    assert fills.slipped_price("Buy", D("100.01"), D("1"), D("0.01")) == D("100.03")  # 100.020001 rounds up
    assert fills.slipped_price("Sell", D("100.01"), D("1"), D("0.01")) == D("99.99")  # 99.999999 rounds down


def test_it_charges_the_fee_on_the_fill_value_to_eight_places():
    assert fills.fee(D("0.01"), D("60000"), D("0.00055")) == D("0.33000000")
    assert fills.fee(D("0.003"), D("61234.5"), D("0.00055")) == D("0.10103693")


def test_the_stop_wins_when_one_candle_reaches_both_the_stop_and_the_take_profit():
    trigger = stop_or_take_profit("Buy", D("59000"), D("61000"), D("60000"), high=D("61500"), low=D("58500"))
    assert trigger.kind == "stop_loss" and trigger.price == D("59000")
    short = stop_or_take_profit("Sell", D("61000"), D("59000"), D("60000"), high=D("61500"), low=D("58500"))
    assert short.kind == "stop_loss" and short.price == D("61000")


def test_it_takes_profit_on_the_high_of_a_long_and_the_low_of_a_short():
    assert stop_or_take_profit("Buy", D("59000"), D("61000"), D("60000"), D("61200"), D("59500")).kind == "take_profit"
    assert stop_or_take_profit("Sell", D("61000"), D("59000"), D("60000"), D("60500"), D("58800")).kind == "take_profit"
    assert stop_or_take_profit("Buy", D("59000"), D("61000"), D("60000"), D("60900"), D("59100")) is None


def test_a_candle_that_gaps_through_the_stop_fills_at_its_open():
    trigger = stop_or_take_profit("Buy", D("59000"), None, open_=D("58000"), high=D("58200"), low=D("57900"))
    assert trigger.kind == "stop_loss" and trigger.price == D("58000") and trigger.trigger_price == D("59000")


def test_a_marketable_limit_order_fills_at_once_no_worse_than_its_limit_and_a_far_one_rests():
    assert fills.marketable_limit_price("Buy", D("60005"), D("60000"), D("2"), D("0.1")) == D("60005")
    assert fills.marketable_limit_price("Buy", D("60100"), D("60000"), D("2"), D("0.1")) == D("60012.0")
    assert fills.marketable_limit_price("Buy", D("59000"), D("60000"), D("2"), D("0.1")) is None
    assert fills.marketable_limit_price("Sell", D("61000"), D("60000"), D("2"), D("0.1")) is None
    assert fills.limit_touched("Buy", D("59000"), low=D("58999"), high=D("60000"))
    assert not fills.limit_touched("Sell", D("61000"), low=D("60000"), high=D("60999"))


def test_it_averages_the_entry_when_adding_and_keeps_the_opening_fees_for_the_close():
    first = apply_fill(PositionState(), "Buy", D("1"), D("100"), D("0.055"))
    added = apply_fill(first.position, "Buy", D("1"), D("110"), D("0.0605"))
    assert added.position == PositionState("Buy", D("2"), D("105.00000000"), D("0.1155"))
    assert added.cash_change == D("-0.0605")


def test_a_close_reports_pnl_net_of_its_share_of_the_opening_fee_and_its_own_fee():
    opened = apply_fill(PositionState(), "Buy", D("2"), D("100"), D("0.11")).position
    half = apply_fill(opened, "Sell", D("1"), D("120"), D("0.066"))
    assert half.realized_gross == D("20.00000000")
    assert half.closed_pnl == D("20") - D("0.055") - D("0.066")
    assert half.position == PositionState("Buy", D("1"), D("100"), D("0.055"))
    assert half.cash_change == D("20") - D("0.066")


def test_an_opposite_fill_larger_than_the_position_flips_it():
    opened = apply_fill(PositionState(), "Sell", D("1"), D("100"), D("0.055")).position
    flip = apply_fill(opened, "Buy", D("3"), D("90"), D("0.1485"))
    assert flip.closed_qty == D("1") and flip.realized_gross == D("10.00000000")
    assert flip.position == PositionState("Buy", D("2"), D("90"), D("0.09900000"))
    assert flip.closed_pnl == D("10") - D("0.055") - D("0.04950000")


def test_it_refuses_a_fill_without_quantity():
    with pytest.raises(ValueError):
        apply_fill(PositionState(), "Buy", D("0"), D("100"), D("0"))


quantities = st.decimals(min_value=D("0.001"), max_value=D("5"), places=3)
prices = st.decimals(min_value=D("10"), max_value=D("100000"), places=2)


@given(st.lists(st.tuples(st.sampled_from(["Buy", "Sell"]), quantities, prices), min_size=1, max_size=30))
def test_fees_are_attributed_exactly_once_and_cash_matches_the_closed_pnl_once_flat(steps):
    position, cash, closed_net = PositionState(), D("0"), D("0")
    for side, qty, price in steps:
        fee = fills.fee(qty, price, D("0.00055"))
        outcome = apply_fill(position, side, qty, price, fee)
        assert outcome.position.size >= 0
        assert (outcome.position.side is None) == (outcome.position.size == 0)
        position, cash = outcome.position, cash + outcome.cash_change
        closed_net += outcome.closed_pnl
    if position.is_open:  # close what is left at the last price
        price = steps[-1][2]
        fee = fills.fee(position.size, price, D("0.00055"))
        outcome = apply_fill(position, fills.opposite(position.side), position.size, price, fee)
        cash, closed_net = cash + outcome.cash_change, closed_net + outcome.closed_pnl
        assert not outcome.position.is_open
    assert cash == closed_net  # every fee reached the wallet once, and every fee was attributed to a close once
