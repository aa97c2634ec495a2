"""A loopback fake of OpenAI's ``POST /v1/chat/completions``, for the real ``openai`` client.

It answers like the API (a ``chat.completion`` object with ``usage``), its content a trade decision
as JSON. Switches make it misbehave the ways a model or the service can: ``answer(...)`` sets the
decision, ``malformed(kind)`` sends content that is not a usable decision, ``rate_limit(times)``
answers 429 with Retry-After, ``fail(status, times)`` answers 5xx, ``slow(seconds)`` holds every answer
(beyond a client's timeout, the client gives up). ``retry_after_ms`` on the error switches adds the
``retry-after-ms`` header the SDK prefers, so a test's retries wait a millisecond, not the SDK's half-second
backoff. Every request is recorded in ``requests``, with its arrival time.
Fixture: ``fake_openai``; use it with ``OpenAI(base_url=fake.url + "/v1", api_key=fake.api_key)``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

FAKE_KEY = "sk-fake-openai-key_DO-NOT-LEAK-77e1"
SLOW_LIMIT_SECONDS = 30  # a held answer goes out anyway after this, so no thread outlives a test run
VALID = {"action": "LONG", "confidence": 80, "reasoning": "RSI recovered from oversold and the MACD histogram "
                                                          "turned up.", "risk_level": "MEDIUM"}
MALFORMED = {
    "not_json": "I would go LONG here, confidence about 80%.",
    "confidence_250": json.dumps({**VALID, "confidence": 250}),
    "unknown_action": json.dumps({**VALID, "action": "BUY"}),
    "missing_field": json.dumps({key: value for key, value in VALID.items() if key != "risk_level"}),
}


class FakeOpenAI:
    def __init__(self, api_key: str = FAKE_KEY):
        self.api_key = api_key
        self.requests: list[dict] = []  # every request: {"path", "body", "at" (time.monotonic())}
        self.prompt_tokens = 812
        self.completion_tokens = 64
        self._lock = threading.Lock()
        self._decision = dict(VALID)
        self._scripted: deque[tuple[int, dict, dict]] = deque()  # (status, headers, body)
        self._delay = 0.0
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the serving loop to look up, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    # Switches ----------------------------------------------------------------------------------------

    def answer(self, action: str = "LONG", confidence: int = 80, reasoning: str = VALID["reasoning"],
               risk_level: str = "MEDIUM") -> None:
        """Every valid answer from now on is this decision."""
        with self._lock:
            self._decision = {"action": action, "confidence": confidence, "reasoning": reasoning,
                              "risk_level": risk_level}

    def malformed(self, kind: str, times: int = 1) -> None:
        """The next ``times`` answers carry unusable content: one of ``MALFORMED``'s kinds."""
        with self._lock:
            self._scripted.extend([(200, {}, self._completion(MALFORMED[kind]))] * times)

    def rate_limit(self, times: int = 1, retry_after: str = "1", retry_after_ms: str | None = None) -> None:
        """The next ``times`` requests get 429 with ``Retry-After: retry_after`` (and ``retry-after-ms``)."""
        body = {"error": {"message": "Rate limit reached for requests", "type": "requests",
                          "param": None, "code": "rate_limit_exceeded"}}
        headers = {"Retry-After": retry_after, **_ms_header(retry_after_ms)}
        with self._lock:
            self._scripted.extend([(429, headers, body)] * times)

    def fail(self, status: int = 500, times: int = 1, retry_after_ms: str | None = None) -> None:
        """The next ``times`` requests get ``status`` (with ``retry-after-ms`` when given)."""
        body = {"error": {"message": "The server had an error while processing your request.",
                          "type": "server_error", "param": None, "code": None}}
        with self._lock:
            self._scripted.extend([(status, _ms_header(retry_after_ms), body)] * times)

    def slow(self, seconds: float) -> None:
        """Hold every answer this long (0: answer at once)."""
        with self._lock:
            self._delay = seconds

    # Wiring ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def client(self, **options):
        """The real SDK client pointed at this fake (no SDK retries unless asked; ``AIService`` sets its own)."""
        import openai

        return openai.OpenAI(**{"base_url": self.url + "/v1", "api_key": self.api_key, "max_retries": 0,
                                "timeout": 5.0, **options})

    @property
    def completions(self) -> list[dict]:
        return [request["body"] for request in self.requests if request["path"] == "/v1/chat/completions"]

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    # The server --------------------------------------------------------------------------------------

    def _completion(self, content: str) -> dict:
        return {
            "id": f"chatcmpl-fake{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "fake-model",
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                      "total_tokens": self.prompt_tokens + self.completion_tokens},
        }

    def _respond(self, path: str, authorization: str, body: dict) -> tuple[int, dict, dict]:
        with self._lock:
            self.requests.append({"path": path, "body": body, "at": time.monotonic()})
            delay = self._delay
        if path.rstrip("/") != "/v1/chat/completions":
            return 404, {}, {"error": {"message": f"Unknown path {path}", "type": "invalid_request_error"}}
        if authorization != f"Bearer {self.api_key}":
            return 401, {}, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}}
        if delay:
            self._stopping.wait(min(delay, SLOW_LIMIT_SECONDS))
        with self._lock:
            if self._scripted:
                status, headers, reply = self._scripted.popleft()
                if status == 200:
                    reply = {**reply, "model": body.get("model", "fake-model")}
                return status, headers, reply
            decision = dict(self._decision)
        reply = self._completion(json.dumps(decision))
        reply["model"] = body.get("model", "fake-model")
        return 200, {}, reply

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                status, headers, reply = fake._respond(self.path, self.headers.get("Authorization", ""),
                                                       body if isinstance(body, dict) else {})
                payload = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timed out) before the answer

            def log_message(self, format, *args):
                pass

        return Handler


def _ms_header(retry_after_ms: str | None) -> dict:
    return {} if retry_after_ms is None else {"retry-after-ms": retry_after_ms}


@pytest.fixture
def fake_openai():
    server = FakeOpenAI().start()
    yield server
    server.stop()
