"""The Backtests API: launch (a Celery task runs it, with live progress), list, get; bad input named."""

import pytest

from trades.models import BacktestRun


@pytest.fixture
def strategy(make_strategy):
    return make_strategy(name="api trend", type="trend_following", symbols=["ETHUSDT"], timeframe="15")


def test_launching_runs_the_task_and_tells_the_dashboards_how_far_it_got(api_client, strategy, eager_celery,
                                                                        dashboard_events,
                                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/backtests", {"strategy": strategy.pk, "start": "2026-04-01",
                                                      "end": "2026-04-10", "fee_percent": "0.04"}, format="json")
    assert response.status_code == 201, response.data
    assert response.data["status"] == "pending" and response.data["symbol"] == "ETHUSDT"
    run = BacktestRun.objects.get(pk=response.data["id"])
    assert run.status == "done" and run.progress == 100
    assert run.parameters["run"]["fee_rate"] == "0.0004"
    progress = dashboard_events("backtestProgress")
    assert progress[-1] == {"id": run.pk, "status": "done", "progress": 100,
                            "total_return_pct": run.metrics["total_return_pct"], "url": f"/backtests/{run.pk}/"}
    assert [p["progress"] for p in progress if p["status"] == "running"] == sorted(
        p["progress"] for p in progress if p["status"] == "running")

    detail = api_client.get(f"/api/backtests/{run.pk}").data
    assert detail["metrics"]["trades"] == detail["trades_count"] and detail["equity_curve"]
    assert detail["final_equity"] == str(run.final_equity)
    listed = api_client.get("/api/backtests/").data["results"]
    assert [item["id"] for item in listed] == [run.pk] and "equity_curve" not in listed[0]


def test_a_second_delivery_of_the_same_task_does_nothing(strategy, db):
    from trades.backtest.tasks import run_backtest

    run = BacktestRun.objects.create(strategy=strategy, name="x", symbol="ETHUSDT", timeframe="15",
                                     start="2026-04-01T00:00Z", end="2026-04-02T00:00Z", initial_balance=1,
                                     status=BacktestRun.Status.RUNNING)
    assert run_backtest(run.pk) == "not pending"


def test_a_failing_run_is_marked_failed_with_the_reason(strategy, db, eager_celery):
    from trades.backtest.tasks import run_backtest

    run = BacktestRun.objects.create(strategy=strategy, name="x", symbol="ETHUSDT", timeframe="15",
                                     start="2026-04-01T00:00Z", end="2026-04-02T00:00Z", initial_balance=1,
                                     parameters={"strategy": {"type": "trend_following"}, "run": {}})
    assert run_backtest(run.pk) == "failed"
    run.refresh_from_db()
    assert run.status == "failed" and run.error


@pytest.mark.parametrize("body, field, reason", [
    ({"symbol": "doge"}, "symbol", "not a USDT perpetual"),
    ({"symbol": "XRPUSDT"}, "symbol", "no bundled candles for XRPUSDT"),
    ({"start": "2025-01-01", "end": "2025-01-05"}, "start", "the data covers 2026-03-23"),
    ({"start": "2026-04-05", "end": "2026-04-01"}, "end", "must not be before"),
    ({"fee_percent": "5"}, "fee_percent", "less than or equal to 1"),
    ({"data_source": "/etc/passwd"}, "data_source", "not a valid choice"),
])
def test_bad_input_answers_400_naming_the_field(api_client, strategy, body, field, reason):
    response = api_client.post("/api/backtests", {"strategy": strategy.pk, **body}, format="json")
    assert response.status_code == 400
    assert reason in str(response.data[field])
    assert not BacktestRun.objects.exists()


def test_it_needs_a_login(anonymous_api_client, db):
    assert anonymous_api_client.get("/api/backtests").status_code in (401, 403)


@pytest.mark.parametrize("body", [{"end": "9999-12-31"}, {"start": "0001-01-01", "end": "9999-12-31"},
                                  {"start": "1926-04-01", "end": "2026-04-10"}])
def test_a_range_reaching_beyond_the_data_is_cut_to_it_with_a_note(api_client, strategy, body):
    response = api_client.post("/api/backtests", {"strategy": strategy.pk, **body}, format="json")

    assert response.status_code == 201, response.data
    run = BacktestRun.objects.get()
    note = response.data["parameters"]["run"]["note"]
    assert note.startswith("The ETHUSDT candles cover only 2026-03-23 12:09 to 2026-04-22 12:08 UTC")
    assert run.start.year == 2026 and run.end.year == 2026 and f"{run.end:%Y-%m-%d %H:%M}" in note


def test_a_range_inside_the_data_has_no_note(api_client, strategy):
    response = api_client.post("/api/backtests", {"strategy": strategy.pk, "start": "2026-04-01",
                                                  "end": "2026-04-10"}, format="json")
    assert response.status_code == 201 and response.data["parameters"]["run"]["note"] == ""
