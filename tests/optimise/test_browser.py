"""The Optimise page in Debian's Chromium (daphne on the test database): a running study's folds arrive over the
socket while its trials run, the page turns into the report, and the pages fit 1366 px and 390 px with nothing
scrolling sideways. This process plays the workers' part (``run_slot``, as the Celery task runs it), a trial at a
time. Screenshots go to ``test-artifacts/journeys/``."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.browser import ARTIFACTS, WAIT_MS
from tests.journeys.conftest import LAPTOP, PHONE, assert_fits
from tests.optimise.conftest import forget_queue
from trades.optimise import slots
from trades.optimise.commands import launch_study
from trades.optimise.models import TrialSlot
from trades.optimise.trials import run_slot
from trades.optimise.walkforward import finish_fold

pytestmark = pytest.mark.slow

SHOTS = ARTIFACTS / "journeys"
# What the study's part of the page showed, each time it changed, kept in sessionStorage past the reload.
RECORD = """() => {
  const card = document.getElementById("folds-title").closest("section");
  new MutationObserver(() => {
    const live = document.getElementById("opt-live");
    if (!live) return;
    const seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
    seen.push([live.dataset.status, live.querySelectorAll("#opt-folds tbody tr").length]);
    sessionStorage.setItem("seen", JSON.stringify(seen));
  }).observe(card, { subtree: true, childList: true });
}"""


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}-{page.viewport_size['width']}px.png", full_page=True)


def test_a_running_study_shows_its_folds_as_they_end_and_becomes_a_report_that_fits_a_phone(
        browser, daphne, signed_in, ask, settings):
    from playwright.sync_api import expect  # here, as in tests/web: collecting the suite needs no Playwright

    settings.CELERY_TASK_DEFAULT_QUEUE = queue = f"unused-{uuid.uuid4().hex[:8]}"  # this test runs the trials
    try:
        run = launch_study(None, ask(walk_forward=2, test_share=0.4, trials=2))
    finally:
        forget_queue(queue)
    page = signed_in(LAPTOP)
    errors = []

    def open_(page):
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{daphne.url}{run.get_absolute_url()}")
        expect(page.locator("#opt-socket")).to_have_text("live", timeout=WAIT_MS)
        expect(page.locator("#opt-live")).to_contain_text("No fold has ended yet.")
        page.evaluate(RECORD)

    browser.do(open_, page)
    for slot_id in TrialSlot.objects.filter(run=run).order_by("fold__index", "number").values_list("pk", flat=True):
        run_slot(slot_id, "test@here")
        for fold in slots.ready_folds(run.pk):
            finish_fold(fold)
        time.sleep(0.4)  # a worker's pace: each change has time to reach the page

    def report(page):
        expect(page.locator("#opt-equity canvas").first).to_be_visible(timeout=WAIT_MS)  # reloaded into the report
        expect(page.locator("#opt-folds tbody tr")).to_have_count(2)
        seen = json.loads(page.evaluate("sessionStorage.getItem('seen') || '[]'"))
        assert ["running", 1] in seen, f"the first fold never showed while the second ran: {seen}"
        assert_fits(page, "optimisation report")
        shot(page, "optimise-report")
        page.set_viewport_size(PHONE)
        assert_fits(page, "optimisation report")
        shot(page, "optimise-report")
        page.goto(f"{daphne.url}/backtests/optimise/")
        expect(page.locator("#studies")).to_contain_text("ema cross")
        assert_fits(page, "optimise page")
        shot(page, "optimise-list")
        page.set_viewport_size(LAPTOP)
        assert_fits(page, "optimise page")

    browser.do(report, page)
    assert errors == []
