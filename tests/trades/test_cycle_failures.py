"""A cycle in which a pair failed says so (issue 18, defect 6): the cycle run, the status line and the API."""

import pytest

from exchange.factory import reset_exchange
from trades.models import CycleRun
from trades.runner import run_strategies, start_run


@pytest.fixture
def replay_exchange(settings, transactional_db):
    settings.EXCHANGE_MODE, settings.MARKET_DATA = "paper", "replay"
    reset_exchange()
    yield
    reset_exchange()


def test_a_pair_that_fails_fails_the_run_and_the_status_names_it(replay_exchange, make_strategy, api_client):
    strategy = make_strategy(name="Majors", symbols=["BTCUSDT", "DOGEUSDT"], timeframe="1")  # replay has no DOGE
    run = start_run("test")
    report = run_strategies([strategy], run=run)
    assert len(report.pairs) == 2
    run.refresh_from_db()
    assert run.status == CycleRun.Status.FAILED
    assert run.error.startswith("Majors DOGEUSDT: klines unavailable") and "Majors BTCUSDT" not in run.error
    status = api_client.get("/api/bot/status").json()
    assert status["last_cycle_status"] == "failed" and "Majors DOGEUSDT" in status["last_error"]


def test_a_cycle_whose_pairs_all_decide_stays_ok(replay_exchange, make_strategy):
    strategy = make_strategy(symbols=["BTCUSDT"], timeframe="1")
    run = start_run("test")
    CycleRun.objects.filter(pk=run.pk).update(status=CycleRun.Status.OK)
    run_strategies([strategy], run=run)
    run.refresh_from_db()
    assert (run.status, run.error) == (CycleRun.Status.OK, "")
