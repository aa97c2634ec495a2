"""Portfolio runs from the command line, the API and the page: the same command layer, the breakdowns shown."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from trades.models import BacktestRun

SYMBOLS = "BTCUSDT,ETHUSDT,SOLUSDT"


@pytest.fixture
def strategy(make_strategy):
    return make_strategy(name="three of them", type="trend_following", symbols=SYMBOLS.split(","), timeframe="5",
                         max_positions=2)


def test_the_command_runs_three_symbols_on_one_wallet_and_prints_the_breakdowns(strategy):
    out = StringIO()
    call_command("backtest", "--strategy", str(strategy.pk), "--symbols", SYMBOLS.lower(), "--from", "2026-04-01",
                 "--to", "2026-04-07", stdout=out, stderr=StringIO())
    run = BacktestRun.objects.get()
    text = out.getvalue()
    assert run.symbol == SYMBOLS and run.parameters["run"]["symbols"] == SYMBOLS.split(",")
    assert run.parameters["strategy"]["max_positions"] == 2
    assert f"on {SYMBOLS.replace(',', ', ')} 5m" in text
    assert "of max_positions 2 open at once" in text and "exit reason" in text and "funding assumed" in text
    assert {trade["symbol"] for trade in run.trades} <= set(SYMBOLS.split(","))
    assert [row["key"] for row in run.metrics["breakdowns"]["symbol"]] == sorted(
        {trade["symbol"] for trade in run.trades})


def test_the_command_refuses_symbol_and_symbols_together_and_a_bad_symbol(strategy):
    with pytest.raises(CommandError, match="not both"):
        call_command("backtest", "--strategy", str(strategy.pk), "--symbol", "BTCUSDT", "--symbols", SYMBOLS)
    with pytest.raises(CommandError, match="DOGE"):
        call_command("backtest", "--strategy", str(strategy.pk), "--symbols", "BTCUSDT,DOGE")
    assert not BacktestRun.objects.exists()


def test_the_api_accepts_symbols_and_the_page_shows_where_the_pnl_came_from(api_client, logged_in_client, strategy,
                                                                          eager_celery,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/backtests", {"strategy": strategy.pk, "symbols": ["ETHUSDT", "SOLUSDT"],
                                                      "start": "2026-04-01", "end": "2026-04-04",
                                                      "funding": False}, format="json")
    assert response.status_code == 201, response.data
    run = BacktestRun.objects.get(pk=response.data["id"])
    assert (run.status, run.symbol, run.parameters["run"]["funding"]) == ("done", "ETHUSDT,SOLUSDT", False)
    assert run.metrics["funding"] == "0" and run.metrics["funding_note"] == "funding not simulated"
    html = logged_in_client.get(f"/backtests/{run.pk}/").content.decode()
    assert "Where the PnL came from" in html and "By symbol" in html and "By exit reason" in html
    assert 'data-label="symbol"' in html and "ETHUSDT: price and trades" in html

    both = api_client.post("/api/backtests", {"strategy": strategy.pk, "symbol": "BTCUSDT",
                                              "symbols": ["ETHUSDT"]}, format="json")
    assert both.status_code == 400 and "not both" in str(both.data["symbols"])
    bad = api_client.post("/api/backtests", {"strategy": strategy.pk, "symbols": ["ETHUSDT", "eth"]}, format="json")
    assert bad.status_code == 400 and "symbols" in bad.data
