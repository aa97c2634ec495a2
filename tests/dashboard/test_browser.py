"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against daphne in a subprocess on
the test database, the events crossing processes through the Redis channel layer.

A trading cycle that trades runs in this process (the fake Bybit server serves candles whose newest signals
LONG); the browser must show the new trade row and its toast without a reload, on pages that fit a 375 px
screen. A crashed server leaves the page marked stale until it reconnects and reloads its cards.
Screenshots go to ``test-artifacts/``. ``make test`` installs Chromium when it is missing; this test never
downloads one.
"""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, PHONE, WAIT_MS
from tests.fakes.scenarios import serve, signal_window

pytestmark = pytest.mark.slow


def phone_width_fits(page) -> bool:
    """Nothing wider than the screen: tables scroll inside their cards, the page never sideways."""
    page.set_viewport_size(PHONE)
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_cycle_that_trades_shows_up_live_with_a_toast_on_pages_that_fit_a_phone(browser, daphne, page, bybit,
                                                                                  make_strategy):
    from playwright.sync_api import expect

    from trades.models import Trade
    from trades.runner import run_strategies, start_run

    candles, _ = signal_window(action="LONG", strategy_type="trend_following", symbol="BTCUSDT", interval="1")
    serve(bybit, "BTCUSDT", "1", candles)
    strategy = make_strategy(name="Trend BTC", type="trend_following", symbols=["BTCUSDT"], timeframe="1")
    errors = []

    def before(page):
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        expect(page.locator("#socket-state")).to_have_text("live", timeout=WAIT_MS)
        expect(page.locator("#recent-trades")).to_contain_text("No trades yet")
        expect(page.locator("#price-chart canvas").first).to_be_visible(timeout=WAIT_MS)
        page.evaluate("window.notReloaded = true")

    browser.do(before, page)
    report = run_strategies([strategy], run=start_run("browser-test"))
    assert report.orders == 1
    trade = Trade.objects.get()

    def after(page):
        row = page.locator(f"#trade-{trade.pk}")
        expect(row).to_contain_text("BTCUSDT", timeout=WAIT_MS)
        expect(row).to_contain_text("Open")
        expect(page.locator("#toasts .toast")).to_contain_text(f"Opened Buy {trade.quantity.normalize():f} BTCUSDT")
        expect(page.locator("#position-BTCUSDT")).to_contain_text("Long", timeout=WAIT_MS)
        expect(page.locator("#status-card")).to_contain_text("running")
        assert page.evaluate("window.notReloaded") is True  # swapped in by the socket, not by a reload
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "dashboard-live-trade.png", full_page=True)
        for name, path in (("dashboard", "/"), ("trades", "/trades/"), ("strategies", "/strategies/"),
                           ("strategy-form", f"/strategies/{strategy.pk}/edit")):
            if path != "/":
                page.goto(daphne.url + path)
            assert phone_width_fits(page), name
            page.screenshot(path=ARTIFACTS / f"{name}-375px.png", full_page=True)

    browser.do(after, page)
    assert errors == []


def test_a_dropped_socket_shows_the_page_is_stale_and_catches_up_after_reconnecting(browser, daphne, page,
                                                                                     make_trade):
    from playwright.sync_api import expect

    browser.do(lambda page: expect(page.locator("#socket-state")).to_have_text("live", timeout=WAIT_MS), page)

    daphne.crash()
    missed = make_trade(status="open")  # recorded while the page could not hear about it

    def stale(page):
        expect(page.locator("#socket-state")).to_have_text("reconnecting…", timeout=WAIT_MS)
        expect(page.locator("#live")).to_have_class("live stale")

    browser.do(stale, page)
    daphne.start()

    def caught_up(page):
        expect(page.locator("#socket-state")).to_have_text("live", timeout=30_000)
        expect(page.locator("#live")).to_have_class("live")
        expect(page.locator(f"#trade-{missed.pk}")).to_be_visible(timeout=WAIT_MS)  # every card reloaded

    browser.do(caught_up, page)


def test_a_click_a_permission_refuses_says_why_in_place(browser, daphne, page, make_strategy):
    """htmx swaps no 403 by itself; static/js/live.js swaps in the refusal's fragment (core.security.refuse_page)
    so a user without the permission (the ``trader`` of these tests has none) sees why nothing happened."""
    from playwright.sync_api import expect

    strategy = make_strategy(name="Waiting", is_active=False)

    def click_activate(page):
        page.goto(f"{daphne.url}/strategies/")
        card = page.locator(f"#strategy-{strategy.pk}")
        card.get_by_role("button", name="Activate").click()
        expect(page.locator(f"#strategy-{strategy.pk} [role=alert]")).to_contain_text(
            "You need the 'Can change strategy' permission", timeout=WAIT_MS)
        assert page.url == f"{daphne.url}/strategies/"  # in place: no navigation to the 403 page

    browser.do(click_activate, page)
    strategy.refresh_from_db()
    assert not strategy.is_active
