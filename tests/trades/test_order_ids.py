from datetime import UTC, datetime

from exchange.services import new_order_link_id
from market.order_ids import entry_order_link_id, exit_order_link_id, is_valid

CANDLE = datetime(2026, 4, 1, 12, 5, tzinfo=UTC)


def test_the_same_decision_always_gets_the_same_id():
    assert entry_order_link_id(7, "BTCUSDT", CANDLE, "LONG") == entry_order_link_id(7, "BTCUSDT", CANDLE, "LONG")
    # 2026-04-01 12:05 UTC is minute 29,584,085 since the epoch
    assert entry_order_link_id(7, "BTCUSDT", CANDLE, "LONG") == "tb-7-BTCUSDT-29584085-L"


def test_a_different_strategy_symbol_candle_or_action_gets_a_different_id():
    base = entry_order_link_id(7, "BTCUSDT", CANDLE, "LONG")
    others = {entry_order_link_id(8, "BTCUSDT", CANDLE, "LONG"), entry_order_link_id(7, "ETHUSDT", CANDLE, "LONG"),
              entry_order_link_id(7, "BTCUSDT", CANDLE.replace(minute=6), "LONG"),
              entry_order_link_id(7, "BTCUSDT", CANDLE, "SHORT")}
    assert base not in others and len(others) == 4


def test_every_id_fits_bybit_rules_even_for_long_symbols():
    long_symbol = entry_order_link_id(123456, "1000000BABYDOGEPEPEUSDT", CANDLE, "SHORT")
    for link_id in (long_symbol, exit_order_link_id(99999999), new_order_link_id()):
        assert is_valid(link_id) and len(link_id) <= 36, link_id
