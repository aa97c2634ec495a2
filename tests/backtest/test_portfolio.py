"""Portfolio backtests: three symbols on one wallet, decided as the live cycle decides."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trades.backtest import portfolio
from trades.backtest.engine import simulate
from trades.backtest.inputs import StrategySpec
from trades.backtest.runner import RunSettings, execute, prepare
from trades.risk import RiskParams

START, END = datetime(2026, 3, 25, tzinfo=UTC), datetime(2026, 4, 8, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def spec(max_positions: int) -> StrategySpec:
    return StrategySpec(type="scalping", indicators={}, timeframe="5",
                        risk=RiskParams(Decimal("1"), Decimal("0.4"), Decimal("0.6"), leverage=Decimal("5"),
                                        max_positions=max_positions))


@pytest.fixture(scope="module")
def three():
    return execute(spec(2), RunSettings("BTCUSDT", START, END, symbols=SYMBOLS))


def most_held_at_once(trades) -> int:
    """The most trades open at one moment, from their entry and exit times (open ones run to the end)."""
    moments = sorted([(t.entry_time, 1) for t in trades] + [(t.exit_time, -1) for t in trades if t.exit_time])
    held = most = 0
    for _, step in moments:  # at equal times the exit (-1) sorts first: a slot freed at a minute is free at it
        held += step
        most = max(most, held)
    return most


def test_three_symbols_never_hold_more_than_max_positions_nor_two_trades_of_one_symbol(three):
    ledger, metrics = three.ledger, three.report.metrics
    every = ledger.trades + ledger.open_trades
    assert {trade.symbol for trade in every} == set(SYMBOLS)
    assert most_held_at_once(every) == metrics["max_open_positions"] == 2
    for symbol in SYMBOLS:
        assert most_held_at_once([t for t in every if t.symbol == symbol]) == 1
    outcomes = metrics["signal_outcomes"]
    assert outcomes["held"] > 0 and outcomes["entered"] == len(every)
    assert any("max positions reached (2/2)" in detail for detail in three.result.details)


def test_the_per_symbol_exit_and_month_breakdowns_sum_to_the_run_totals(three):
    metrics, ledger = three.report.metrics, three.ledger
    for table in ("symbol", "exit", "month"):
        rows = metrics["breakdowns"][table]
        assert sum(Decimal(row["pnl"]) for row in rows) == Decimal(metrics["net_pnl"])
        assert sum(row["trades"] for row in rows) == metrics["trades"]
    symbol_rows = metrics["breakdowns"]["symbol"]
    assert [row["key"] for row in symbol_rows] == list(SYMBOLS)
    assert sum(Decimal(row["funding"]) for row in symbol_rows) == ledger.funding == Decimal(metrics["funding"]) != 0
    assert metrics["funding_note"] == "funding assumed at 0.01 % per 8 h"
    opened = sum((t.gross - t.entry_fee + t.funding for t in ledger.open_trades), Decimal(0))
    parts = sum((p.pnl for t in ledger.open_trades for p in t.parts), Decimal(0))
    assert ledger.final_equity == Decimal("10000") + Decimal(metrics["net_pnl"]) + sum(
        (t.funding for t in ledger.trades), Decimal(0)) + opened + parts
    assert float(ledger.final_equity) == pytest.approx(three.result.final_equity, abs=1e-5)
    assert three.result.equity[-1] == pytest.approx(three.result.final_equity, abs=1e-5)


def test_a_portfolio_of_one_symbol_decides_exactly_as_the_one_symbol_engine(db):
    prepared = prepare(spec(1), RunSettings("ETHUSDT", START, END))
    alone = simulate(prepared.minutes, prepared.events, prepared.config, trade_from=prepared.data.trade_from,
                     closes=prepared.closes)
    leg = portfolio.Leg("ETHUSDT", prepared.minutes, prepared.events, prepared.config, prepared.closes,
                        prepared.data.trade_from)
    joined = portfolio.simulate_portfolio([leg], prepared.config, max_positions=1)
    together = joined.legs["ETHUSDT"]
    assert len(alone.trades) > 50
    assert [(t.entry_bar, t.exit_bar, t.qty, t.exit_reason) for t in together.trades] == [
        (t.entry_bar, t.exit_bar, t.qty, t.exit_reason) for t in alone.trades]
    assert joined.outcomes == alone.outcomes
    assert joined.final_equity == pytest.approx(alone.final_equity, abs=1e-6)


def test_a_one_symbol_run_stores_what_it_did_before_and_a_portfolio_stores_its_symbols(db):
    run = RunSettings("BTCUSDT", START, END)
    assert RunSettings.from_parameters(run.as_parameters()) == run and "symbols" not in run.as_parameters()
    many = replace(run, symbols=SYMBOLS)
    assert RunSettings.from_parameters(many.as_parameters()) == many
    older = {key: value for key, value in run.as_parameters().items() if key != "funding"}
    assert RunSettings.from_parameters(older).funding is False  # a run stored before funding existed replays without
