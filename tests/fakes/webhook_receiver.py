"""A loopback HTTP receiver of webhooks, for the real ``requests`` client: it records every POST (path, headers, raw
body) and checks its signature the way a receiver would, with its own HMAC-SHA256 over "<timestamp>.<raw body>"
(independent of the bot's code) and the secret the test gives it.

Answers 204 unless told otherwise: ``script(500, 500)`` answers the next two requests with 500 (then 204 again);
``script((429, {"retry_after": 1.5}))`` with a status and a JSON body. Fixture: ``webhook_receiver``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def json(self):
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        timestamp = self.headers.get("X-Tradebot-Timestamp", "")
        expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"sha256={expected}", self.headers.get("X-Tradebot-Signature", ""))


class WebhookReceiver:
    def __init__(self):
        self.received: list[Received] = []
        self._scripted: deque[tuple[int, dict | None]] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def script(self, *answers) -> None:
        """The next requests' answers, in order: a status, or (status, JSON body)."""
        with self._lock:
            self._scripted.extend(answer if isinstance(answer, tuple) else (answer, None) for answer in answers)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self) -> tuple[int, dict | None]:
        with self._lock:
            return self._scripted.popleft() if self._scripted else (204, None)

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, reply = receiver._answer()
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body, status))
                payload = json.dumps(reply).encode() if reply is not None else b""
                self.send_response(status)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args):
                pass

        return Handler


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()
