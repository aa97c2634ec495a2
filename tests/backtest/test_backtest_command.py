"""``manage.py backtest``: a seed strategy over the bundled month, JSON, a grid, AI from the cache only."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ai.models import AICall
from trades.backtest.inputs import StrategySpec
from trades.backtest.runner import RunSettings, prepare
from trades.management.commands.backtest import Command
from trades.models import BacktestRun


def backtest(*args):
    out, err = StringIO(), StringIO()
    call_command("backtest", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def seed_strategy(make_strategy):
    return make_strategy(name="seed trend", type="trend_following", symbols=["BTCUSDT"], timeframe="5")


def test_it_prints_the_report_and_stores_a_reproducible_run(seed_strategy):
    out, _ = backtest("--strategy", str(seed_strategy.pk), "--symbol", "BTCUSDT", "--from", "2026-03-24",
                      "--to", "2026-04-20")
    run = BacktestRun.objects.get()
    for label in ("total return", "CAGR", "win rate", "profit factor", "expectancy", "max drawdown",
                  "Sharpe / Sortino", "exposure", "fees paid"):
        assert label in out
    assert f"stored as backtest #{run.pk}" in out
    assert (run.status, run.strategy, run.symbol, run.timeframe) == ("done", seed_strategy, "BTCUSDT", "5")
    assert run.start == datetime(2026, 3, 24, tzinfo=UTC) and run.end == datetime(2026, 4, 21, tzinfo=UTC)
    assert len(run.data_checksum) == 64 and run.code_version.split()[-1].startswith("engine-")
    assert run.data["candles"] == 28 * 1440 and run.data["gaps"] == []
    assert run.trades_count == run.metrics["trades"] > 0 and len(run.trades) >= run.trades_count
    assert run.final_equity == Decimal(run.metrics["final_equity"])
    assert 0 < len(run.equity_curve) <= 1600
    assert run.chart["candles"] and run.parameters["strategy"]["indicators"]["ema_short"] == 9
    # The same run again: the same data, the same figures.
    backtest("--strategy", str(seed_strategy.pk), "--from", "2026-03-24", "--to", "2026-04-20")
    again = BacktestRun.objects.exclude(pk=run.pk).get()
    assert (again.data_checksum, again.final_equity, again.trades) == (run.data_checksum, run.final_equity, run.trades)


def test_json_output_carries_metrics_trades_and_the_curve(tmp_path, db):
    config = tmp_path / "scalper.json"
    config.write_text(json.dumps({"type": "scalping", "timeframe": "1", "stop_loss_percentage": "0.5",
                                  "take_profit_percentage": "0.5", "indicators": {"rsi_period": 10}}))
    out, _ = backtest("--config", str(config), "--symbol", "ETHUSDT", "--from", "2026-04-01", "--to", "2026-04-03",
                      "--fee", "0.02", "--slippage-bps", "0", "--json")
    report = json.loads(out)
    assert report["parameters"]["strategy"]["name"] == "scalper"
    assert report["parameters"]["run"]["fee_rate"] == "0.0002"
    assert report["metrics"]["trades"] == len([t for t in report["trades"] if t["exit_time"]])
    assert Decimal(report["metrics"]["fees_paid"]) == sum(
        Decimal(t["entry_fee"]) + Decimal(t["exit_fee"]) for t in report["trades"])
    assert report["equity_curve"][0][1] == pytest.approx(10000, abs=50)


def test_a_grid_runs_every_combination_in_parallel_and_ranks_them(seed_strategy):
    out, _ = backtest("--strategy", str(seed_strategy.pk), "--from", "2026-04-01", "--to", "2026-04-10",
                      "--grid", "ema_short=5,9,21", "ema_long=21,34", "--workers", "2")
    lines = out.splitlines()
    assert "6 combinations of ema_short, ema_long" in lines[0]
    rows = [line.split() for line in lines[2:]]
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert rows[-1][1:3] == ["21", "21"] and "not run" in lines[-1]  # ema_short must be shorter than ema_long
    returns = [float(row[3]) for row in rows[:-1]]
    assert returns == sorted(returns, reverse=True)
    assert not BacktestRun.objects.exists()


def test_with_ai_it_says_what_it_would_cost_and_answers_only_from_the_cache(seed_strategy, settings, fake_openai):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-test", fake_openai.url + "/v1"
    seed_strategy.use_ai_confirmation, seed_strategy.min_ai_confidence = True, 70
    seed_strategy.save()
    spec = StrategySpec.from_strategy(seed_strategy)
    window = RunSettings("BTCUSDT", datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 8, tzinfo=UTC))
    events = prepare(spec, window).events
    assert len(events) >= 3
    times = [datetime.fromtimestamp(ns / 1e9, tz=UTC) for ns in events.candle_time.tolist()]
    wanted = ["LONG" if action > 0 else "SHORT" for action in events.action.tolist()]
    for index in (0, 1):  # the first signal confirmed, the second contradicted, the rest never asked
        AICall.objects.create(strategy=seed_strategy, symbol="BTCUSDT", timeframe="5", candle_time=times[index],
                              model="m", prompt_version="v1", status="ok", confidence=80,
                              action=wanted[index] if index == 0 else "HOLD", reasoning="cached")

    out, err = backtest("--strategy", str(seed_strategy.pk), "--from", "2026-04-01", "--to", "2026-04-07", "--ai")
    assert f"up to {len(events)} questions" in err and "2 answered in the decision cache" in err and "USD" in err
    run = BacktestRun.objects.get()
    outcomes = run.metrics["signal_outcomes"]
    assert outcomes["entered"] == 1 and outcomes["ai"] >= 2
    assert run.trades[0]["signal_time"] == times[0].isoformat()
    assert fake_openai.requests == []  # never asked


def test_without_ai_a_strategy_that_wants_it_is_told_it_trades_unconfirmed(seed_strategy):
    seed_strategy.use_ai_confirmation = True
    seed_strategy.save()
    _, err = backtest("--strategy", str(seed_strategy.pk), "--from", "2026-04-01", "--to", "2026-04-02")
    assert "AI confirmation is off in backtests" in err


@pytest.mark.parametrize("args, message", [
    (["--strategy", "999999"], "No strategy with id 999999"),
    (["--symbol", "DOGEUSDT"], "no bundled candles for DOGEUSDT"),
    (["--from", "2025-01-01", "--to", "2025-01-31"], "no BTCUSDT candles from 2025-01-01"),
    (["--from", "yesterday"], "is not a date"),
    (["--fee", "-1"], "--fee must be at least 0"),
    (["--data", "/nowhere/candles.csv"], "no such candle file"),
])
def test_bad_input_is_refused_with_a_reason(seed_strategy, args, message):
    if "--strategy" not in args:
        args = ["--strategy", str(seed_strategy.pk), *args]
    with pytest.raises(CommandError, match=message):
        backtest(*args)


def test_a_config_runs_on_its_own_symbol(tmp_path, db):
    config = tmp_path / "eth.json"
    config.write_text(json.dumps({"type": "trend_following", "timeframe": "15", "symbols": ["ETHUSDT", "BTCUSDT"]}))
    _, err = backtest("--config", str(config), "--from", "2026-04-01", "--to", "2026-04-03")
    assert BacktestRun.objects.get().symbol == "ETHUSDT"
    assert "runs on the first, ETHUSDT" in err
    backtest("--config", str(config), "--symbol", "SOLUSDT", "--from", "2026-04-01", "--to", "2026-04-03")
    assert BacktestRun.objects.latest("pk").symbol == "SOLUSDT"  # --symbol still wins


def test_a_range_beyond_the_data_is_cut_to_it_and_says_so(seed_strategy):
    out, err = backtest("--strategy", str(seed_strategy.pk), "--from", "1926-01-01", "--to", "9999-12-31")
    run = BacktestRun.objects.get()
    assert "The BTCUSDT candles cover only 2026-03-2" in err
    assert run.start.year == 2026 and (run.end - run.start).days < 32
    assert f"{run.start:%Y-%m-%d %H:%M} to {run.end:%Y-%m-%d %H:%M} UTC" in out  # the range that ran


class Terminal(StringIO):
    def isatty(self):
        return True


def test_the_progress_bar_is_plain_on_a_terminal_and_absent_from_a_pipe(seed_strategy):
    terminal = Terminal()
    # As from a shell: Django paints the command's stderr in its red error style when it is a terminal.
    call_command(Command(stderr=terminal, force_color=True), "--strategy", str(seed_strategy.pk), "--from",
                 "2026-04-01", "--to", "2026-04-02", stdout=StringIO())
    assert "backtest:" in terminal.getvalue() and "\x1b[31" not in terminal.getvalue()
    assert "\n" not in terminal.getvalue()  # redrawn in place, no line per update

    _, piped = backtest("--strategy", str(seed_strategy.pk), "--from", "2026-04-01", "--to", "2026-04-02")
    assert piped == ""
