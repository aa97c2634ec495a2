"""Driving Debian's Chromium with Playwright against daphne in a subprocess: the pieces every browser test uses
(tests/dashboard/test_browser.py, tests/journeys). ``make test`` installs Chromium when it is missing; these tests never
download one, and skip, saying why, where it cannot be installed.
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import REPO, ManagedProcess, free_port, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO / "test-artifacts"
PASSWORD = "correct-horse-battery"
PHONE = {"width": 375, "height": 812}
WAIT_MS = 15_000


class Browser:
    """Chromium through Playwright's sync API, in a thread of its own.

    That API keeps an asyncio loop running in the thread that uses it, and Django refuses database calls
    from such a thread; so the test hands the browser its steps (``browser.do(step)``) and keeps its own
    thread for the database and the trading cycle.
    """

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright")
        self.playwright, self.chromium = self.do(self._launch)

    @staticmethod
    def _launch():
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        return playwright, playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)

    def do(self, step, *args):
        return self.pool.submit(step, *args).result()

    def close(self):
        self.do(lambda: (self.chromium.close(), self.playwright.stop()))
        self.pool.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not at /usr/bin/chromium and could not be installed here (`make test` "
                    "installs it with apt-get when it runs as root): apt-get install chromium chromium-driver")
    browser = Browser()
    yield browser
    browser.close()


@pytest.fixture
def trader(django_user_model):
    """A user daphne can log in: hashed with PBKDF2 (the tests' own hasher is MD5), cheaply."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user = django_user_model.objects.create_user("trader")
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    return user


class Daphne:
    """daphne on the test database and the shared Redis, trading through the same fake Bybit as this process;
    stopped and started again on the same port to drop every socket."""

    def __init__(self, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.process: ManagedProcess | None = None

    def start(self) -> Daphne:
        # A short application close timeout: on SIGTERM daphne would otherwise wait 10 s for open sockets.
        self.process = ManagedProcess(["-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                                       "--application-close-timeout", "1", "tradebot.asgi:application"],
                                      env=self.env, name="daphne").start()
        wait_until(self._accepts, timeout=30, what="daphne to listen", on_timeout=self.process.output)
        return self

    def stop(self) -> None:
        # daphne can hang on SIGTERM while a sync request is in flight (asgiref joins its worker threads after
        # the loop has stopped); a test has no reason to wait for that: a second, then SIGKILL (it was 5 s, paid by
        # a dozen tests' teardowns).
        self.process.stop(timeout=1)

    def crash(self) -> None:
        """Gone at once, every socket dropped without a closing handshake (code 1006)."""
        self.process.process.kill()
        self.process.process.wait()

    def _accepts(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0


@pytest.fixture
def daphne(database_url_of_test_db, app_on_fake_bybit, tmp_path):
    bybit = app_on_fake_bybit
    server = Daphne(dict(os.environ, DATABASE_URL=database_url_of_test_db, TRADEBOT_DATA_DIR=str(tmp_path),
                         EXCHANGE_MODE="testnet", BYBIT_BASE_URL=bybit.url, BYBIT_API_KEY=bybit.api_key,
                         BYBIT_API_SECRET=bybit.api_secret, ALLOWED_HOSTS="127.0.0.1")).start()
    yield server
    server.stop()


def sign_in(page, base_url: str, username: str):
    """Sign ``page`` in through the login form (password ``PASSWORD``) and wait for the dashboard."""
    page.goto(f"{base_url}/accounts/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page


@pytest.fixture
def page(browser, daphne, trader):
    """A page logged in on daphne as the trader; closed before daphne stops."""

    def log_in():
        return sign_in(browser.chromium.new_page(viewport={"width": 1366, "height": 900}), daphne.url, "trader")

    page = browser.do(log_in)
    yield page
    browser.do(page.close)
