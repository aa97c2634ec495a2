"""Backtests in a real browser, at 1366x900 and at 390x844 (issue 18): a run launched from the Backtests page lands
on its own page, which shows the progress arriving over the socket and turns into the report when the run ends;
a 600-trade report, the comparison and the dashboard fit the screen and open their charts on the whole run,
with no chart logo over the panes.

The worker's part is played by this process (``run_pending``, as the Celery task does), slowed down a little so
that the page has progress to show. Screenshots go to ``test-artifacts/journeys/``.
"""

from __future__ import annotations

import json
import re
import time
from io import StringIO

import pytest
from django.core.management import call_command

from tests.browser import ARTIFACTS, WAIT_MS
from tests.journeys.conftest import VIEWPORTS, assert_fits
from trades.backtest import runner
from trades.models import BacktestRun

pytestmark = pytest.mark.slow

SHOTS = ARTIFACTS / "journeys"
# Every percentage the run's page shows, kept in sessionStorage so that it outlives the reload into the report.
RECORD_PROGRESS = """() => {
  const card = document.getElementById("run-card");
  new MutationObserver(() => {
    const shown = card.querySelector(".pct");
    if (!shown) return;
    const seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
    seen.push(parseInt(shown.textContent, 10));
    sessionStorage.setItem("seen", JSON.stringify(seen));
  }).observe(card, { subtree: true, childList: true, characterData: true });
}"""
# The library's own logo link (the credit under the charts is a plain link without these parameters).
LOGO = "a[href*='utm_medium=lwc-link']"


def shot(page, name: str, *, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}-{page.viewport_size['width']}px.png", full_page=full_page)


def whole_run_shown(page, chart: str, bars: int) -> bool:
    """The chart's visible range covers its first and last bar (fitContent did not stop at the newest few)."""
    shown = page.evaluate(f"window.backtestCharts.{chart}.timeScale().getVisibleLogicalRange()")
    return shown["from"] <= 0.5 and shown["to"] >= bars - 1.5


@pytest.fixture
def slowed_progress(monkeypatch):
    """Each progress event of a run leaves the page a moment to show it before the next."""
    publish = runner.publish

    def slowly(event, data):
        publish(event, data)
        time.sleep(0.15)

    monkeypatch.setattr(runner, "publish", slowly)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_backtest_launched_from_the_page_shows_its_progress_and_becomes_its_report(
        browser, daphne, signed_in, viewport, make_strategy, slowed_progress):
    from playwright.sync_api import expect  # here, as in tests/dashboard: collecting the suite needs no Playwright

    strategy = make_strategy(name="Trend on BTC, 15 minutes", type="trend_following", symbols=["BTCUSDT"],
                             timeframe="15", is_active=False)
    page = signed_in(viewport)
    errors = []

    def launch(page):
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{daphne.url}/backtests/")
        expect(page.locator("#data-coverage")).to_contain_text("BTCUSDT")
        assert_fits(page, "backtests page")
        page.select_option("#b-strategy", str(strategy.pk))
        page.fill("#b-start", "2026-04-01")
        page.fill("#b-end", "2026-04-12")
        page.get_by_role("button", name="Run backtest").click()
        page.wait_for_url(re.compile(r"/backtests/\d+/$"))
        expect(page.locator("#run-card")).to_have_attribute("data-status", "pending")
        expect(page.locator("#bt-socket")).to_have_text("live", timeout=WAIT_MS)
        expect(page.locator(".messages")).to_contain_text("queued")
        page.evaluate(RECORD_PROGRESS)
        assert_fits(page, "pending backtest")
        shot(page, "backtest-pending")

    browser.do(launch, page)
    run = BacktestRun.objects.get()
    assert runner.run_pending(run.pk) == "done"

    def report(page):
        expect(page.locator("#bt-trades")).to_be_visible(timeout=WAIT_MS)  # the page reloaded into the report
        expect(page.locator("#run-card")).to_have_attribute("data-status", "done")
        expect(page.locator(".bt-metrics").first).to_contain_text("total return")
        expect(page.locator("#bt-price canvas").first).to_be_visible(timeout=WAIT_MS)
        seen = json.loads(page.evaluate("sessionStorage.getItem('seen') || '[]'"))
        assert any(0 < percent < 100 for percent in seen), f"no progress shown on the way: {seen}"
        assert seen == sorted(seen)
        assert page.locator(".error").count() == 0 and "Server Error" not in page.content()
        assert_fits(page, "backtest report")
        shot(page, "backtest-report")

    browser.do(report, page)
    assert errors == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_600_trade_report_fits_the_screen_and_every_chart_opens_on_the_whole_run(
        browser, daphne, signed_in, viewport, tmp_path):
    from playwright.sync_api import expect  # here, as in tests/dashboard: collecting the suite needs no Playwright

    busy = tmp_path / "busy scalper.json"
    busy.write_text(json.dumps({"type": "scalping", "timeframe": "1", "symbols": ["BTCUSDT"],
                                "stop_loss_percentage": "0.2", "take_profit_percentage": "0.2"}))
    calm = tmp_path / "calm trend.json"
    calm.write_text(json.dumps({"type": "trend_following", "timeframe": "15", "symbols": ["BTCUSDT"]}))
    for config in (busy, calm):
        call_command("backtest", "--config", str(config), stdout=StringIO(), stderr=StringIO())
    run, other = BacktestRun.objects.order_by("pk")
    assert run.trades_count == 600
    page = signed_in(viewport)
    errors = []

    def check(page):
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{daphne.url}{run.get_absolute_url()}")
        expect(page.locator("#bt-equity canvas").first).to_be_visible(timeout=WAIT_MS)
        page.wait_for_function("window.backtestCharts !== undefined")
        assert whole_run_shown(page, "price", len(run.chart["candles"]))
        assert whole_run_shown(page, "equity", len(run.equity_curve))
        assert page.locator(LOGO).count() == 0
        expect(page.locator("#bt-trades tbody tr")).to_have_count(600)
        assert_fits(page, "600-trade report")
        shot(page, "backtest-600-trades", full_page=False)  # the whole page is 100,000 px tall on a phone
        page.locator("#bt-trades").scroll_into_view_if_needed()
        shot(page, "backtest-600-trades-table", full_page=False)

        page.goto(f"{daphne.url}/backtests/compare/?ids={run.pk}&ids={other.pk}")
        expect(page.locator("#bt-compare canvas").first).to_be_visible(timeout=WAIT_MS)
        page.wait_for_function("window.backtestCharts !== undefined")
        # Both runs cover the same month: the union of their curves' times, from the first point of each.
        times = {point[0] for curve in (run.equity_curve, other.equity_curve) for point in curve}
        assert whole_run_shown(page, "compare", len(times))
        assert page.locator(LOGO).count() == 0
        assert_fits(page, "compare")
        shot(page, "backtest-compare")

        page.goto(f"{daphne.url}/backtests/")
        expect(page.locator("#runs")).to_contain_text("busy scalper")
        assert_fits(page, "backtests list")
        shot(page, "backtests-list")

        page.goto(f"{daphne.url}/")
        expect(page.locator("#price-chart canvas").first).to_be_visible(timeout=WAIT_MS)
        assert page.locator(LOGO).count() == 0  # static/js/charts.js: the dashboard's charts too

    browser.do(check, page)
    assert errors == []
