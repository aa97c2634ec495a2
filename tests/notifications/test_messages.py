"""The words of each message, read straight from the pure render functions."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from django.test import override_settings

from core.notifications import messages

OPENED = datetime(2026, 4, 10, 9, 15, tzinfo=UTC)


def a_trade(**overrides):
    values = {
        "strategy_id": 1, "strategy": SimpleNamespace(name="btc-scalper"), "symbol": "BTCUSDT", "side": "Sell",
        "quantity": Decimal("0.50000000"), "price": Decimal("3000.00000000"), "stop_loss": Decimal("3030"),
        "take_profit": Decimal("2940"), "confidence": 77, "reasoning": "", "order_link_id": "tb-7-eth-short",
        "exit_price": Decimal("2940"), "realized_pnl": Decimal("29.175"), "fees": Decimal("0.825"),
        "executed_at": OPENED, "created_at": OPENED, "closed_at": OPENED + timedelta(days=1, hours=3, minutes=7),
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def test_an_opened_trade_names_size_entry_stops_confidence_and_the_reasoning_in_one_line():
    message = messages.trade_opened(a_trade(reasoning="Lower highs on 15m;\n\n  funding   turned positive."))
    assert message.title == "Opened short BTCUSDT"
    assert message.body == (
        "Strategy: btc-scalper\n"
        "Size: 0.5 BTCUSDT at 3000 (1500.00 USDT notional)\n"
        "Stop-loss: 3030  Take-profit: 2940\n"
        "AI confidence: 77%\n"
        "Reasoning: Lower highs on 15m; funding turned positive.\n"
        "Order: tb-7-eth-short")


def test_a_long_reasoning_is_cut_to_one_short_line():
    message = messages.trade_opened(a_trade(reasoning="word " * 200))
    reasoning = next(line for line in message.body.splitlines() if line.startswith("Reasoning: "))
    assert len(reasoning) == len("Reasoning: ") + messages.REASONING_LIMIT
    assert reasoning.endswith("…")


def test_a_manual_trade_without_ai_says_so_and_skips_the_ai_lines():
    message = messages.trade_opened(a_trade(strategy_id=None, strategy=None, confidence=None, price=None))
    assert message.body.splitlines()[:2] == ["Strategy: manual", "Size: 0.5 BTCUSDT at -"]
    assert "AI confidence" not in message.body
    assert "Reasoning" not in message.body


def test_a_closed_trade_gives_exit_pnl_after_fees_and_duration():
    message = messages.trade_closed(a_trade())
    assert message.title == "Closed short BTCUSDT: +29.18 USDT"
    assert message.body == (
        "Strategy: btc-scalper\n"
        "Size: 0.5 BTCUSDT\n"
        "Entry: 3000  Exit: 2940\n"
        "Realized PnL: +29.18 USDT after 0.83 USDT fees (+1.95% of entry value)\n"
        "Duration: 1d 3h 07m\n"
        "Order: tb-7-eth-short")


def test_a_losing_trade_shows_a_negative_pnl():
    message = messages.trade_closed(a_trade(realized_pnl=Decimal("-4.5"), closed_at=OPENED + timedelta(minutes=9)))
    assert message.title == "Closed short BTCUSDT: -4.50 USDT"
    assert "Duration: 9m" in message.body


def test_the_daily_summary_lists_pnl_trades_win_rate_ai_cost_and_open_positions():
    stats = messages.DailyStats(
        day=date(2026, 4, 10), window_start=datetime(2026, 4, 9, 20, 0), window_end=datetime(2026, 4, 10, 20, 0),
        opened=4, closed=3, wins=2, realized_pnl=Decimal("17.5"), fees=Decimal("2.1"), ai_cost=Decimal("0.01234"),
        open_positions=("long 0.01 BTCUSDT at 65000, SL 64350, TP 66300",))
    message = messages.daily_summary(stats, zone_name="UTC")
    assert message.title == "Daily summary 2026-04-10: +17.50 USDT"
    assert message.body == (
        "Period: 2026-04-09 20:00 to 2026-04-10 20:00 (UTC)\n"
        "Realized PnL: +17.50 USDT (fees 2.10 USDT)\n"
        "Trades: 4 opened, 3 closed\n"
        "Win rate: 66.7% (2 of 3)\n"
        "AI cost: 0.0123 USD\n"
        "Open positions: 1\n"
        "- long 0.01 BTCUSDT at 65000, SL 64350, TP 66300")


def test_a_quiet_day_has_no_win_rate():
    stats = messages.DailyStats(
        day=date(2026, 4, 10), window_start=datetime(2026, 4, 9, 20), window_end=datetime(2026, 4, 10, 20),
        opened=0, closed=0, wins=0, realized_pnl=Decimal("0"), fees=Decimal("0"), ai_cost=Decimal("0"),
        open_positions=())
    assert "Win rate: n/a (nothing closed)" in messages.daily_summary(stats, zone_name="UTC").body


@override_settings(SECRET_VALUES=["sk-live-abcdef"])
def test_an_error_text_is_flattened_and_secrets_in_it_masked():
    message = messages.repeated_error("ai", "401 for key sk-live-abcdef\nat https://api.openai.com", muted_minutes=10)
    assert message.body.splitlines()[0] == "401 for key *** at https://api.openai.com"


def test_numbers_lose_only_the_database_trailing_zeros():
    assert messages.number(Decimal("65000.50000000")) == "65000.5"
    assert messages.number(Decimal("100.00000000")) == "100"
    assert messages.number(Decimal("0E-8")) == "0"
    assert messages.number(None) == "-"
