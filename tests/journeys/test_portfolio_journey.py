"""A portfolio backtest's report in a real browser at 1366x900 and 390x844: the breakdown tables by symbol, exit
reason and month are there and nothing scrolls sideways."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from tests.browser import ARTIFACTS, WAIT_MS
from tests.journeys.conftest import VIEWPORTS, assert_fits

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_three_symbol_report_shows_its_breakdowns_and_fits_the_screen(browser, daphne, signed_in, viewport,
                                                                       tmp_path):
    from playwright.sync_api import expect  # here, as in tests/dashboard: collecting the suite needs no Playwright

    config = tmp_path / "three.json"
    config.write_text(json.dumps({"type": "trend_following", "timeframe": "15", "max_positions": 2,
                                  "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"]}))
    out = StringIO()  # the run as --json prints it: this thread runs Playwright's loop, where the ORM may not go
    call_command("backtest", "--config", str(config), "--symbols", "BTCUSDT,ETHUSDT,SOLUSDT", "--json",
                 stdout=out, stderr=StringIO())
    run = json.loads(out.getvalue())
    page = signed_in(viewport)
    rows = len(run["metrics"]["breakdowns"]["symbol"])

    def check(page):  # on the browser's own thread, as Playwright's sync API wants
        page.goto(f"{daphne.url}/backtests/{run['id']}/")
        expect(page.locator("#bt-equity canvas").first).to_be_visible(timeout=WAIT_MS)
        breakdowns = page.locator("#bt-breakdowns")
        expect(breakdowns).to_contain_text("By symbol")
        expect(breakdowns).to_contain_text("By exit reason")
        expect(breakdowns).to_contain_text("By month")
        expect(breakdowns.locator("table").first.locator("tbody tr")).to_have_count(rows)
        assert_fits(page, "portfolio report")
        (ARTIFACTS / "journeys").mkdir(parents=True, exist_ok=True)
        breakdowns.screenshot(path=ARTIFACTS / "journeys" / f"portfolio-breakdowns-{viewport['width']}px.png")

    browser.do(check, page)
