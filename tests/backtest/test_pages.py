"""The Backtests page: launch, list with live progress, one run's charts and trades, runs side by side."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command

from trades.models import BacktestRun


@pytest.fixture
def strategy(make_strategy):
    return make_strategy(name="page trend", type="trend_following", symbols=["BTCUSDT"], timeframe="15")


@pytest.fixture
def two_runs(strategy):
    """The same strategy and week on 5,000 and on 10,000 USDT."""
    for balance in ("5000", "10000"):
        call_command("backtest", "--strategy", str(strategy.pk), "--from", "2026-04-01", "--to", "2026-04-07",
                     "--balance", balance, stdout=StringIO(), stderr=StringIO())
    return list(BacktestRun.objects.order_by("pk"))


def json_script(html: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_the_page_launches_a_run_from_the_form(logged_in_client, strategy, eager_celery,
                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in_client.post("/backtests/", {"strategy": strategy.pk, "start": "2026-04-01",
                                                         "end": "2026-04-03", "initial_balance": "10000",
                                                         "fee_percent": "0.055", "slippage_bps": "2",
                                                         "data_source": "bundled"})
    run = BacktestRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/backtests/{run.pk}/"
    assert run.status == "done"


def test_bad_form_input_is_shown_beside_its_field(logged_in_client, strategy):
    response = logged_in_client.post("/backtests/", {"strategy": strategy.pk, "start": "2025-01-01",
                                                     "end": "2025-01-02"})
    assert response.status_code == 400
    assert "the data covers 2026-03-23" in response.content.decode()
    assert not BacktestRun.objects.exists()


def test_the_list_shows_runs_and_running_ones_get_a_progress_bar(logged_in_client, two_runs, strategy):
    running = BacktestRun.objects.create(strategy=strategy, name="busy", symbol="BTCUSDT", timeframe="15",
                                         start="2026-04-01T00:00Z", end="2026-04-02T00:00Z", initial_balance=1,
                                         status="running", progress=40)
    html = logged_in_client.get("/backtests/").content.decode()
    assert 'aria-current="page">Backtests</a>' in html
    for run in two_runs:
        assert f'href="/backtests/{run.pk}/"' in html and f'name="ids" value="{run.pk}"' in html
    assert f'<progress max="100" value="40" aria-label="progress of run {running.pk}">' in html
    assert "backtestProgress" in html


def test_a_run_page_carries_its_candles_trades_and_equity_curve_for_the_charts(logged_in_client, two_runs):
    run = two_runs[0]
    html = logged_in_client.get(f"/backtests/{run.pk}/").content.decode()
    assert "lightweight-charts" in html and 'id="bt-price"' in html and 'id="bt-equity"' in html
    chart = json_script(html, "bt-chart-data")
    assert chart["interval"] == "15" and len(chart["candles"]) == 7 * 96
    assert json_script(html, "bt-trades-data") == run.trades
    curve = json_script(html, "bt-equity-data")
    assert curve == run.equity_curve and curve[0][1] == pytest.approx(5000, rel=0.05)
    assert run.data_checksum in html and "max drawdown" in html and "fee 0.055% per side" in html


def test_compare_puts_runs_side_by_side(logged_in_client, two_runs):
    ids = "&".join(f"ids={run.pk}" for run in two_runs)
    html = logged_in_client.get(f"/backtests/compare/?{ids}").content.decode()
    assert html.count('<th scope="row">total return</th>') == 1
    curves = json_script(html, "bt-curves")
    assert [curve["id"] for curve in curves] == [run.pk for run in two_runs]
    assert [curve["initial"] for curve in curves] == ["5000.00000000", "10000.00000000"]


def test_compare_needs_two_finished_runs(logged_in_client, two_runs):
    response = logged_in_client.get(f"/backtests/compare/?ids={two_runs[0].pk}")
    assert response.status_code == 302 and response["Location"] == "/backtests/"


def test_the_pages_need_a_login(client, db):
    assert client.get("/backtests/").status_code == 302


def launch_form(**values):
    return {"initial_balance": "10000", "fee_percent": "0.055", "slippage_bps": "2", "data_source": "bundled",
            **values}


def test_a_launched_run_lands_on_its_pending_page_which_follows_it_live(logged_in_client, strategy):
    response = logged_in_client.post("/backtests/", launch_form(strategy=strategy.pk, start="2026-04-01",
                                                                end="2026-04-03"), follow=True)

    run = BacktestRun.objects.get()
    html = response.content.decode()
    assert response.status_code == 200 and response.redirect_chain == [(f"/backtests/{run.pk}/", 302)]
    assert run.status == "pending"  # no worker ran it: the page is the pending one
    assert f'data-run="{run.pk}" data-status="pending"' in html and f'aria-label="progress of run {run.pk}"' in html
    assert "backtestProgress" in html and "window.location.reload()" in html  # live, and the report once it ends
    assert "Binance spot" not in html and "bundled" in html  # the data it will read, from its parameters


def test_the_report_gives_every_figure_its_unit_and_no_more_decimals_than_it_means(logged_in_client, two_runs):
    html = logged_in_client.get(f"/backtests/{two_runs[1].pk}/").content.decode()

    metrics = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", html))
    assert re.fullmatch(r"[\d,]+\.\d\d USDT \(\d+\.\d\d%\), .+", metrics["max drawdown"])
    for label in ("initial balance", "final equity", "fees paid"):
        assert re.fullmatch(r"-?[\d,]+\.\d\d USDT", metrics[label]), metrics[label]
    for label in ("total return", "CAGR", "win rate"):
        assert re.fullmatch(r"-?[\d,]+\.\d\d%", metrics[label]), metrics[label]
    assert re.fullmatch(r"-?[\d,]+\.\d\d USDT per trade", metrics["expectancy"])
    table = html[html.index('id="bt-trades"'):html.index("</table>", html.index('id="bt-trades"'))]
    fees = re.findall(r'data-label="fees \(USDT\)" class="num">([^<]*)<', table)
    prices = re.findall(r'data-label="entry price" class="num">([^<]*)<', table)
    assert fees and all(re.fullmatch(r"[\d,]+\.\d\d", fee) for fee in fees)  # cents, not 8 decimals
    assert prices and all(re.fullmatch(r"[\d,]+\.\d0", price) for price in prices)  # BTCUSDT's 0.10 tick
    assert "attributionLogo: false" in html and "minBarSpacing" in html  # no logo; fitContent shows the whole run


def test_the_compare_curves_start_at_the_first_minute_of_each_run(logged_in_client, two_runs):
    ids = "&".join(f"ids={run.pk}" for run in two_runs)
    html = logged_in_client.get(f"/backtests/compare/?{ids}").content.decode()
    for curve, run in zip(json_script(html, "bt-curves"), two_runs, strict=True):
        assert curve["points"][0][0] == run.start.timestamp() * 1000
        assert curve["points"][0][1] == pytest.approx(float(run.initial_balance), rel=0.002)  # about 0%
    assert "attributionLogo: false" in html and "minBarSpacing" in html


def test_the_page_says_what_the_data_covers(logged_in_client, strategy):
    html = logged_in_client.get("/backtests/").content.decode()
    assert re.search(r"Bundled candles: .*BTCUSDT.* from 2026-03-2\d \d\d:\d\d to 2026-04-2\d \d\d:\d\d UTC", html)


def test_a_range_beyond_the_data_is_cut_to_it_and_says_so(logged_in_client, strategy, eager_celery,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in_client.post("/backtests/", launch_form(strategy=strategy.pk, start="1926-01-01",
                                                                    end="9999-12-31"), follow=True)

    run = BacktestRun.objects.get()
    html = response.content.decode()
    assert response.status_code == 200 and run.status == "done"
    assert "The BTCUSDT candles cover only 2026-03-2" in html  # the message, and on the run's own page
    assert run.parameters["run"]["note"].startswith("The BTCUSDT candles cover only")
    assert run.start.year == run.end.year == 2026 and (run.end - run.start).days < 32  # what ran, stored
    assert run.start.isoformat() == run.data["start"] and run.end.isoformat() == run.data["end"]
    minutes = (run.end - run.start).total_seconds() / 60
    growth = float(run.final_equity / run.initial_balance)
    assert run.metrics["cagr_pct"] == pytest.approx((growth ** (365 * 24 * 60 / minutes) - 1) * 100, rel=1e-3)
