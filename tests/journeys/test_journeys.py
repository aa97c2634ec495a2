"""What a person does on the pages, at 1366x900 and at 390x844 (issue 18): sign in, watch a trade the cycle made
appear on an open Trades page and close it there, create a strategy (and have a bad one refused), stop new
entries from the status line and allow them again, sign out in another tab, and find every main page fitting
the screen with weeks of data on it.

Screenshots of each go to ``test-artifacts/journeys/``.
"""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, WAIT_MS
from tests.fakes.scenarios import serve, signal_window
from tests.journeys.conftest import VIEWPORTS, assert_fits

pytestmark = pytest.mark.slow

SHOTS = ARTIFACTS / "journeys"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}-{page.viewport_size['width']}px.png", full_page=True)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_trade_the_cycle_makes_appears_on_an_open_trades_page_and_is_closed_there(
        browser, daphne, signed_in, viewport, app_on_fake_bybit, make_strategy):
    from playwright.sync_api import expect

    from trades.models import Trade, TradeStatus
    from trades.runner import run_strategies, start_run

    candles, _ = signal_window(action="LONG", strategy_type="trend_following", symbol="BTCUSDT", interval="1")
    serve(app_on_fake_bybit, "BTCUSDT", "1", candles)
    strategy = make_strategy(name="Trend BTC", type="trend_following", symbols=["BTCUSDT"], timeframe="1")
    page = signed_in(viewport)
    errors = []

    def open_trades(page):
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", lambda dialog: dialog.accept())  # the Close button's confirmation
        page.goto(f"{daphne.url}/trades/")
        expect(page.locator("#socket-state")).to_have_text("live", timeout=WAIT_MS)
        expect(page.locator("#trades-table")).to_contain_text("0 trades")
        page.evaluate("window.notReloaded = true")

    browser.do(open_trades, page)
    assert run_strategies([strategy], run=start_run("journey")).orders == 1
    trade = Trade.objects.get()

    def watch_and_close(page):
        row = page.locator(f"#trade-{trade.pk}")
        expect(row).to_contain_text("Open", timeout=WAIT_MS)
        expect(row.locator("[data-label='PnL (unrealized)']")).not_to_have_text("—")  # open trades show their PnL
        assert page.evaluate("window.notReloaded") is True  # it came over the socket
        assert_fits(page, "trades page with an open trade")
        shot(page, "trades-open-trade")
        row.get_by_role("button", name="Close").click()
        expect(page.locator(f"#trade-{trade.pk}")).to_contain_text("Closed", timeout=WAIT_MS)

    browser.do(watch_and_close, page)
    trade.refresh_from_db()
    assert (trade.status, trade.status_reason) == (TradeStatus.CLOSED, "closed by the operator")
    assert errors == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_strategy_is_created_through_the_form_and_a_bad_one_refused(browser, daphne, signed_in, viewport):
    from playwright.sync_api import expect

    from strategies.models import Strategy

    page = signed_in(viewport)

    def create(page):
        page.goto(f"{daphne.url}/strategies/new")
        assert_fits(page, "strategy form")
        page.fill("#id_name", "Too much leverage")
        page.select_option("#id_type", "trend_following")
        page.fill("#id_symbols", "BTCUSDT")
        page.fill("#id_leverage", "100")
        page.fill("#id_stop_loss_percentage", "1")
        page.get_by_role("button", name="Create strategy").click()
        expect(page.locator("[role=alert], .field-error").filter(has_text="liquidat")).to_have_count(1)
        shot(page, "strategy-form-refused")
        page.fill("#id_name", "Breakout ETH")
        page.fill("#id_symbols", "ETHUSDT")
        page.fill("#id_leverage", "3")
        page.get_by_role("button", name="Create strategy").click()
        page.wait_for_url(f"{daphne.url}/strategies/")
        expect(page.locator(".messages")).to_contain_text("Breakout ETH")
        assert_fits(page, "strategies page")

    browser.do(create, page)
    assert list(Strategy.objects.values_list("name", flat=True)) == ["Breakout ETH"]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_signing_out_in_another_tab_sends_the_first_tab_to_the_login_page_once(browser, daphne, signed_in,
                                                                                  viewport):
    from playwright.sync_api import expect

    first = signed_in(viewport)
    second = signed_in(viewport, context=first.context)
    errors = []

    def sign_out_elsewhere():
        first.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        expect(first.locator("#socket-state")).to_have_text("live", timeout=WAIT_MS)
        second.goto(f"{daphne.url}/trades/")
        second.get_by_role("button", name="Log out").click()
        first.wait_for_url(f"{daphne.url}/accounts/login/?next=/", timeout=WAIT_MS)
        expect(first.locator("input[name=password]")).to_have_count(1)  # one login form, not one per card
        first.wait_for_timeout(1500)  # no further refresh or socket pushes a fragment into the login page
        expect(first.locator("input[name=password]")).to_have_count(1)
        assert first.url == f"{daphne.url}/accounts/login/?next=/"

    browser.do(sign_out_elsewhere)
    assert not [error for error in errors if "oobErrorNoTarget" in error]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_every_main_page_fits_the_screen_with_weeks_of_data(browser, daphne, signed_in, viewport, realistic_data):
    from playwright.sync_api import expect

    page = signed_in(viewport)

    def visit(page):
        for name, path in (("dashboard", "/"), ("trades", "/trades/"), ("strategies", "/strategies/"),
                           ("strategy-form", f"/strategies/{realistic_data.pk}/edit"), ("backtests", "/backtests/")):
            page.goto(daphne.url + path)
            page.wait_for_load_state("networkidle")
            if path == "/":
                expect(page.locator("#positions-card tbody tr")).to_have_count(3, timeout=WAIT_MS)
            if path == "/trades/":
                expect(page.locator("#trades-table tbody tr")).to_have_count(50)  # a full page of 60
            assert_fits(page, name)
            shot(page, name)

    browser.do(visit, page)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_chart_of_a_symbol_without_data_says_so_in_words(browser, daphne, signed_in, viewport):
    """Issue 18, defect 7: the API's refusal, readable and in front of the chart, not raw JSON behind its panes."""
    from playwright.sync_api import expect

    page = signed_in(viewport)

    def open_chart(page):
        page.goto(f"{daphne.url}/?symbol=DOGEUSDT")
        note = page.locator("#price-chart .chart-empty")
        expect(note).to_contain_text("Chart unavailable: symbol:", timeout=WAIT_MS)
        assert "{" not in note.inner_text() and "[" not in note.inner_text()
        box = note.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        assert page.evaluate(f"document.elementFromPoint({x}, {y}).closest('.chart-empty') !== null")  # on top
        shot(page, "chart-error")

    browser.do(open_chart, page)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_an_order_is_placed_from_the_dashboard_and_a_bad_one_refused_in_place(browser, daphne, signed_in, viewport,
                                                                                app_on_fake_bybit):
    from playwright.sync_api import expect

    from trades.models import Trade

    page = signed_in(viewport)

    def order(page):
        page.on("dialog", lambda dialog: dialog.accept())
        card = page.locator("#order-card")
        card.locator("#order-qty").fill("-1")
        card.get_by_role("button", name="Send order").click()
        expect(page.locator("#order-card .field-error")).to_contain_text("greater than 0", timeout=WAIT_MS)
        page.locator("#order-card #order-qty").fill("0.01")
        page.locator("#order-card").get_by_role("button", name="Send order").click()
        expect(page.locator("#order-card [role=status]")).to_contain_text("Buy 0.01 BTCUSDT: Filled", timeout=WAIT_MS)
        expect(page.locator("#recent-trades")).to_contain_text("BTCUSDT", timeout=WAIT_MS)  # over the socket
        assert_fits(page, "dashboard after an order")
        shot(page, "dashboard-order")

    browser.do(order, page)
    assert Trade.objects.get().symbol == "BTCUSDT"
    assert len(app_on_fake_bybit.orders_received) == 1  # the refused one never left


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_new_entries_are_stopped_and_allowed_again_from_the_status_line(browser, daphne, signed_in, viewport):
    from playwright.sync_api import expect

    from trades.models import EntrySwitch

    page = signed_in(viewport)

    def stop(page):
        status = page.locator("#status-card")
        page.once("dialog", lambda dialog: dialog.accept("CPI at 14:30"))  # the prompt for the reason
        status.get_by_role("button", name="Stop new entries").click()
        expect(status).to_contain_text("new entries stopped: CPI at 14:30 (by operator); open trades stay managed",
                                       timeout=WAIT_MS)
        assert_fits(page, "entries-stopped")
        shot(page, "entries-stopped")

    def allow(page):
        status = page.locator("#status-card")
        page.once("dialog", lambda dialog: dialog.accept())  # "Allow new entries again?"
        status.get_by_role("button", name="Allow new entries").click()
        expect(status.get_by_role("button", name="Stop new entries")).to_be_visible(timeout=WAIT_MS)
        expect(status).not_to_contain_text("new entries stopped")

    browser.do(lambda: stop(page))
    switch = EntrySwitch.current()
    assert switch.stopped and switch.reason == "CPI at 14:30"
    browser.do(lambda: allow(page))
    assert not EntrySwitch.current().stopped
