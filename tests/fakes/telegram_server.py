"""A loopback fake of the Telegram Bot API's ``sendMessage``, for the real ``requests`` client.

``POST /bot<token>/sendMessage`` with a JSON body answers like Telegram: 200 with the sent message,
401 for a wrong token, 400 without a chat or text. Switches make it misbehave the way Telegram does:
``rate_limit()`` (429 with ``parameters.retry_after``), ``fail()`` (5xx) and ``hang()`` (no answer until
``release()``, which the client sees as a timeout). Fixture: ``fake_telegram``.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

FAKE_TOKEN = "987654321:FAKE-tg-token_DO-NOT-LEAK-4c1d"
CHAT_ID = "-100424242"
HANG_LIMIT_SECONDS = 30  # a hung request answers anyway after this, so no thread outlives a test run
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/sendMessage/?$")


class FakeTelegram:
    def __init__(self, token: str = FAKE_TOKEN, chat_id: str = CHAT_ID):
        self.token = token
        self.chat_id = chat_id
        self.messages: list[dict] = []  # what Telegram accepted: {"chat_id", "text"}
        self.attempts = 0  # every well-formed sendMessage request, answered or not
        self.hung = 0  # requests currently held by hang()
        self._lock = threading.Lock()
        self._scripted: deque[tuple[int, dict]] = deque()
        self._failing_status: int | None = None
        self._released = threading.Event()
        self._released.set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # Switches ----------------------------------------------------------------------------------------

    def rate_limit(self, retry_after: int = 3, times: int = 1) -> None:
        """The next ``times`` requests get 429 "Too Many Requests: retry after N"."""
        reply = {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                 "parameters": {"retry_after": retry_after}}
        with self._lock:
            self._scripted.extend([(429, reply)] * times)

    def fail(self, status: int = 502) -> None:
        """Every request gets ``status`` until ``heal()``."""
        with self._lock:
            self._failing_status = status

    def hang(self) -> None:
        """Hold every request without an answer until ``release()``."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def heal(self) -> None:
        with self._lock:
            self._scripted.clear()
            self._failing_status = None
        self.release()

    # Wiring ------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def settings(self) -> dict:
        """Django settings that point the bot at this fake."""
        return {"TELEGRAM_ENABLED": True, "TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_CHAT_ID": self.chat_id,
                "TELEGRAM_API_BASE_URL": self.base_url}

    @property
    def env(self) -> dict:
        """The same, as environment variables for a child process."""
        return {"TELEGRAM_ENABLED": "true", "TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_CHAT_ID": self.chat_id,
                "TELEGRAM_API_BASE_URL": self.base_url}

    def texts(self) -> list[str]:
        with self._lock:
            return [message["text"] for message in self.messages]

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    # The server --------------------------------------------------------------------------------------

    def _answer(self, token: str, body: dict) -> tuple[int, dict]:
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if not body.get("chat_id") or not body.get("text"):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
        with self._lock:
            self.attempts += 1
            if self._scripted:
                return self._scripted.popleft()
            if self._failing_status:
                return self._failing_status, {"ok": False, "error_code": self._failing_status,
                                              "description": "Internal Server Error"}
        if not self._released.is_set():
            with self._lock:
                self.hung += 1
            self._released.wait(HANG_LIMIT_SECONDS)
            with self._lock:
                self.hung -= 1
        with self._lock:
            self.messages.append({"chat_id": str(body["chat_id"]), "text": body["text"]})
            message_id = len(self.messages)
        return 200, {"ok": True, "result": {"message_id": message_id, "chat": {"id": body["chat_id"]},
                                            "text": body["text"]}}

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                match = _PATH.match(self.path)
                if not match:
                    return self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                status, reply = fake._answer(match["token"], body if isinstance(body, dict) else {})
                self._reply(status, reply)

            def _reply(self, status: int, reply: dict):
                payload = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timed out) before the answer

            def log_message(self, format, *args):
                pass  # the request line holds the token: keep it out of the test output

        return Handler


@pytest.fixture
def fake_telegram():
    server = FakeTelegram().start()
    yield server
    server.stop()
