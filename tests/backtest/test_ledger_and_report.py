"""The float engine against the Decimal ledger on real data, and the report's figures on small curves."""

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from django.contrib.admin import AdminSite
from django.test import RequestFactory

from trades.backtest.admin import BacktestRunAdmin, register
from trades.backtest.inputs import StrategySpec
from trades.backtest.models import BacktestRun
from trades.backtest.report import downsample, max_drawdown, sharpe_sortino
from trades.backtest.runner import RunSettings, execute
from trades.risk import RiskParams

MINUTE_NS = 60 * 10**9


@pytest.mark.parametrize("symbol, kind, timeframe, slippage", [
    ("BTCUSDT", "scalping", "1", "2"), ("SOLUSDT", "trend_following", "5", "5"),
    ("ETHUSDT", "trend_following", "1", "0"),
])
def test_the_float_engine_and_the_decimal_fill_model_agree_on_every_trade(db, symbol, kind, timeframe, slippage):
    spec = StrategySpec(type=kind, indicators={}, timeframe=timeframe,
                        risk=RiskParams(Decimal("2"), Decimal("0.4"), Decimal("0.6")))
    outcome = execute(spec, RunSettings(symbol, datetime(2026, 3, 25, tzinfo=UTC), datetime(2026, 4, 15, tzinfo=UTC),
                                        slippage_bps=Decimal(slippage)))
    floats, ledger = outcome.result.trades, outcome.ledger.trades
    assert len(floats) == len(ledger) >= 20
    for fast, exact in zip(floats, ledger, strict=True):
        assert float(exact.entry_price) == pytest.approx(fast.entry_price, abs=1e-9)
        assert float(exact.exit_price) == pytest.approx(fast.exit_price, abs=1e-9)
        assert float(exact.pnl) == pytest.approx(fast.pnl, abs=1e-6)
        assert exact.exit_reason == fast.exit_reason
    assert float(outcome.ledger.final_equity) == pytest.approx(outcome.result.final_equity, abs=1e-6)
    assert float(outcome.ledger.fees_paid) == pytest.approx(outcome.result.fees_paid, abs=1e-6)
    assert outcome.result.equity[-1] == pytest.approx(outcome.result.final_equity, abs=1e-6)


def test_max_drawdown_is_the_largest_fall_from_a_peak_and_lasts_until_the_peak_is_regained():
    equity = np.array([100, 110, 105, 88, 95, 111, 90, 100.0])
    times = np.arange(len(equity)) * MINUTE_NS
    drawdown = max_drawdown(equity, times)
    assert drawdown["value"] == pytest.approx(22) and drawdown["pct"] == pytest.approx(20)
    assert drawdown["duration_s"] == 4 * 60  # peak at minute 1, back above 110 at minute 5
    unrecovered = max_drawdown(np.array([100, 90, 80.0]), np.arange(3) * MINUTE_NS)
    assert (unrecovered["value"], unrecovered["duration_s"]) == (20, 120)  # still under water at the end


def test_sharpe_and_sortino_are_annualised_from_the_strategys_candles():
    equity = np.array([100, 101, 100, 102, 101, 103.0])
    returns = np.diff(equity) / equity[:-1]
    scale = np.sqrt(365 * 24 * 60 / 1)
    sharpe, sortino = sharpe_sortino(equity, 1)
    assert sharpe == pytest.approx(returns.mean() / returns.std(ddof=1) * scale, abs=1e-3)
    assert sortino == pytest.approx(returns.mean() / np.sqrt(np.mean(np.minimum(returns, 0) ** 2)) * scale, abs=1e-3)
    five = np.repeat(equity, 5)  # the same path on 5-minute candles: sampled every 5 minutes, fewer per year
    assert sharpe_sortino(five, 5)[0] == pytest.approx(sharpe / np.sqrt(5), abs=1e-3)


def test_the_stored_curve_is_short_but_keeps_the_worst_moment_and_the_last():
    equity = np.linspace(100, 200, 10_000)
    equity[4321] = 50
    points = downsample(equity, np.arange(10_000) * MINUTE_NS, points=100)
    assert len(points) <= 101
    assert min(point[1] for point in points) == 50 and points[-1][1] == 200
    assert points[-1][0] == 9_999 * 60_000


def test_the_admin_shows_runs_read_only(db, django_user_model):
    site = AdminSite()
    register(site)
    model_admin = site._registry[BacktestRun]
    assert isinstance(model_admin, BacktestRunAdmin)
    request = RequestFactory().get("/")
    request.user = django_user_model.objects.create_superuser("root", "r@example.com", "x")
    assert not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)
                or model_admin.has_delete_permission(request))


def test_the_stored_curve_starts_at_the_first_minute_even_when_its_bucket_dips_later():
    equity = np.full(10_000, 100.0)
    equity[50] = 95  # the first bucket's deepest minute is not its first
    points = downsample(equity, np.arange(10_000) * MINUTE_NS, points=100)
    assert points[0] == [0, 100.0, 0.0] and [50 * 60_000, 95.0, -5.0] in points
