"""``manage.py run_cycle`` and ``manage.py sync`` against the fake Bybit server."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from exchange.factory import reset_exchange
from trades.models import CycleRun, Trade, TradeStatus


@pytest.fixture
def on_fake_bybit(fake_bybit):
    with override_settings(EXCHANGE_MODE="testnet", BYBIT_API_KEY=fake_bybit.api_key,
                           BYBIT_API_SECRET=fake_bybit.api_secret, BYBIT_BASE_URL=fake_bybit.url):
        reset_exchange()
        yield fake_bybit
    reset_exchange()


def run(command, *args):
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_dry_cycle_prints_the_decision_table_and_sends_nothing(long_signal, on_fake_bybit):
    strategy, candles = long_signal
    out, _ = run("run_cycle", "--dry")
    header, row = out.splitlines()[:2]
    assert header.split()[:5] == ["strategy", "symbol", "candle", "signal", "outcome"]
    assert row.split()[:5] == ["trend", "BTCUSDT", candles[-1].start.strftime("%m-%d"),
                               candles[-1].start.strftime("%H:%M"), "LONG"]
    assert "dry_run" in row and "would Buy" in row
    assert out.strip().endswith("1 pairs, 0 orders (dry run: none sent), equity 10000.00 USDT")
    assert on_fake_bybit.orders_received == [] and not CycleRun.objects.exists()


def test_a_real_cycle_places_the_order_and_records_the_run(long_signal, on_fake_bybit):
    strategy, _ = long_signal
    out, _ = run("run_cycle", "--strategy", str(strategy.pk))
    assert "entered" in out and "1 pairs, 1 orders" in out
    assert len(on_fake_bybit.orders_received) == 1
    run_row = CycleRun.objects.get()
    assert (run_row.trigger, run_row.status, run_row.pairs, run_row.orders) == ("manual", "ok", 1, 1)


def test_it_says_clearly_when_there_is_nothing_to_run(on_fake_bybit, transactional_db):
    with pytest.raises(CommandError, match="No active strategy"):
        run("run_cycle")
    with pytest.raises(CommandError, match="No strategy with id 424242"):
        run("run_cycle", "--strategy", "424242")


def test_sync_settles_a_pending_trade_and_prints_what_changed(on_fake_bybit, bybit, transactional_db):
    from market.types import OrderRequest, Side

    bybit.place_order(OrderRequest(symbol="ETHUSDT", side=Side.BUY, qty=Decimal("0.1"), order_link_id="man-sync-1"))
    trade = Trade.objects.create(symbol="ETHUSDT", side="Buy", quantity=Decimal("0.1"), order_link_id="man-sync-1")
    out, _ = run("sync")
    trade.refresh_from_db()
    assert trade.status == TradeStatus.OPEN
    assert f"opened: trade {trade.pk} ETHUSDT (order man-sync-1 had filled)" in out
    out, _ = run("sync")
    assert out.strip() == "Database and exchange agree: nothing to do."
