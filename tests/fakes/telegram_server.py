"""A loopback fake of the Telegram Bot API, for the real clients: ``requests`` (the notifier) and python-telegram-bot
(the control bot, ``chat/``).

``POST /bot<token>/<method>`` with a JSON or a form body (python-telegram-bot sends forms whose values are JSON)
answers like Telegram: 200 ``{"ok": true, "result": ...}``, 401 for a wrong token, 400 for a missing field.

- ``sendMessage``: what the notifier and the bot send; kept in ``messages`` (``texts()``). Switches make it misbehave
  the way Telegram does: ``rate_limit()`` (429 with ``parameters.retry_after``), ``fail()`` (5xx) and ``hang()`` (no
  answer until ``release()``, which the client sees as a timeout). They apply to ``sendMessage`` only, so a control
  bot keeps polling meanwhile.
- ``getUpdates``: long polling over a queue the test fills with ``push_message()`` / ``push_button()``. As Telegram
  does, a call with ``offset`` confirms (drops for good) every update below it, answers the others at once, and with
  none waits up to ``timeout`` seconds (at most ``POLL_CAP_SECONDS`` here, to keep tests quick) before answering [].
- ``answerCallbackQuery``, ``editMessageText`` (changes a sent message's text; kept in ``edits``), ``getMe``,
  ``deleteWebhook``, ``setMyCommands``, ``getMyCommands``: what python-telegram-bot calls on start and on a button.

Every call with the right token, answered or not, is in ``calls`` as ``(method, parameters)``. Fixture:
``fake_telegram``.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

FAKE_TOKEN = "987654321:FAKE-tg-token_DO-NOT-LEAK-4c1d"
CHAT_ID = "-100424242"
BOT_ID = 987654321
HANG_LIMIT_SECONDS = 30  # a hung request answers anyway after this, so no thread outlives a test run
POLL_CAP_SECONDS = 2.0
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)/?$")
# Form values python-telegram-bot sends as plain strings (the rest are JSON: numbers, objects, lists).
_TEXT_FIELDS = {"text", "callback_query_id", "parse_mode", "url", "language_code"}


class FakeTelegram:
    def __init__(self, token: str = FAKE_TOKEN, chat_id: str = CHAT_ID):
        self.token = token
        self.chat_id = chat_id
        self.messages: list[dict] = []  # what Telegram accepted: {"chat_id", "text", "message_id", ...}
        self.edits: list[dict] = []  # editMessageText calls accepted: {"chat_id", "message_id", "text", ...}
        self.answers: list[dict] = []  # answerCallbackQuery calls: {"callback_query_id", "text"}
        self.calls: list[tuple[str, dict]] = []  # every well-formed call: (method, parameters)
        self.attempts = 0  # every well-formed sendMessage request, answered or not
        self.hung = 0  # requests currently held by hang()
        self._lock = threading.Lock()
        self._updates_changed = threading.Condition(self._lock)
        self._updates: list[dict] = []
        self._next_update_id = 1000
        self._next_message_id = 1
        self._scripted: deque[tuple[int, dict]] = deque()
        self._failing_status: int | None = None
        self._released = threading.Event()
        self._released.set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # Switches ----------------------------------------------------------------------------------------

    def rate_limit(self, retry_after: int = 3, times: int = 1) -> None:
        """The next ``times`` sendMessage requests get 429 "Too Many Requests: retry after N"."""
        reply = {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                 "parameters": {"retry_after": retry_after}}
        with self._lock:
            self._scripted.extend([(429, reply)] * times)

    def fail(self, status: int = 502) -> None:
        """Every sendMessage request gets ``status`` until ``heal()``."""
        with self._lock:
            self._failing_status = status

    def hang(self) -> None:
        """Hold every sendMessage request without an answer until ``release()``."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def heal(self) -> None:
        with self._lock:
            self._scripted.clear()
            self._failing_status = None
        self.release()

    # Updates: what a person does in a chat -------------------------------------------------------------

    def push_message(self, chat_id: int, text: str, *, user_id: int | None = None, username: str = "trader",
                     sent_at: float | None = None) -> int:
        """A person sends ``text`` in chat ``chat_id`` (a private chat: the chat id is the user's id)."""
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": username.title(), "username": username}
        message = {"message_id": self._new_message_id(), "date": int(sent_at or time.time()), "text": text,
                   "chat": {"id": chat_id, "type": "private", "username": username}, "from": user}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._push({"message": message})

    def push_button(self, chat_id: int, data: str, *, message_id: int, user_id: int | None = None) -> int:
        """A person taps the inline button whose callback data is ``data`` under the bot's message ``message_id``."""
        with self._lock:
            sent = next((m for m in self.messages if m["message_id"] == message_id), None)
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "Trader"}
        message = {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "tradebot"},
                   "text": sent["text"] if sent else ""}
        query = {"id": f"cq-{self._next_update_id}", "from": user, "message": message,
                 "chat_instance": f"ci-{chat_id}", "data": data}
        return self._push({"callback_query": query})

    def buttons(self, message: dict) -> list[tuple[str, str]]:
        """A sent message's inline buttons as (label, callback data)."""
        markup = message.get("reply_markup") or {}
        return [(button["text"], button["callback_data"]) for row in markup.get("inline_keyboard", [])
                for button in row]

    def sent_to(self, chat_id: int) -> list[dict]:
        with self._lock:
            return [message for message in self.messages if message["chat_id"] == str(chat_id)]

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    def _push(self, update: dict) -> int:
        with self._updates_changed:
            update_id = self._next_update_id
            self._next_update_id += 1
            self._updates.append({"update_id": update_id, **update})
            self._updates_changed.notify_all()
        return update_id

    def _new_message_id(self) -> int:
        with self._lock:
            self._next_message_id += 1
            return self._next_message_id

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

    def called(self, method: str) -> list[dict]:
        with self._lock:
            return [parameters for name, parameters in self.calls if name == method]

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        with self._updates_changed:
            self._updates_changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    # The server --------------------------------------------------------------------------------------

    def _answer(self, token: str, method: str, body: dict) -> tuple[int, dict]:
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        with self._lock:
            self.calls.append((method, body))
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        return handler(body)

    def _sendMessage(self, body: dict) -> tuple[int, dict]:  # noqa: N802 - the Bot API's method name
        if not body.get("chat_id") or not body.get("text"):
            return _bad_request("message text is empty")
        if refusal := _text_refusal(body):
            return refusal
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
        message_id = self._new_message_id()
        with self._lock:
            self.messages.append({"chat_id": str(body["chat_id"]), "text": body["text"], "message_id": message_id,
                                  "parse_mode": body.get("parse_mode"), "reply_markup": body.get("reply_markup")})
        return _ok(self._message(body["chat_id"], message_id, body["text"]))

    def _getUpdates(self, body: dict) -> tuple[int, dict]:  # noqa: N802
        offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 100)
        deadline = time.monotonic() + min(float(body.get("timeout") or 0), POLL_CAP_SECONDS)
        with self._updates_changed:
            if offset:  # Telegram forgets every update below the offset: confirmed by the client
                self._updates = [update for update in self._updates if update["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._updates_changed.wait(deadline - time.monotonic())
            return _ok([dict(update) for update in self._updates[:limit]])

    def _answerCallbackQuery(self, body: dict) -> tuple[int, dict]:  # noqa: N802
        if not body.get("callback_query_id"):
            return _bad_request("query id is empty")
        with self._lock:
            self.answers.append({"callback_query_id": body["callback_query_id"], "text": body.get("text")})
        return _ok(True)

    def _editMessageText(self, body: dict) -> tuple[int, dict]:  # noqa: N802
        chat_id, message_id, text = str(body.get("chat_id") or ""), body.get("message_id"), body.get("text")
        with self._lock:
            sent = next((m for m in self.messages if m["chat_id"] == chat_id and m["message_id"] == message_id), None)
            if sent is None or not text:
                return _bad_request("message to edit not found" if sent is None else "message text is empty")
            if refusal := _text_refusal(body):
                return refusal
            if sent["text"] == text and sent.get("reply_markup") == body.get("reply_markup"):
                return _bad_request("message is not modified")
            sent["text"], sent["reply_markup"] = text, body.get("reply_markup")
            self.edits.append({"chat_id": chat_id, "message_id": message_id, "text": text,
                               "parse_mode": body.get("parse_mode")})
        return _ok(self._message(chat_id, message_id, text))

    def _getMe(self, body: dict) -> tuple[int, dict]:  # noqa: N802
        return _ok({"id": BOT_ID, "is_bot": True, "first_name": "tradebot", "username": "tradebot_fake_bot",
                    "can_join_groups": False, "can_read_all_group_messages": False,
                    "supports_inline_queries": False})

    def _deleteWebhook(self, body: dict) -> tuple[int, dict]:  # noqa: N802
        return _ok(True)

    def _setMyCommands(self, body: dict) -> tuple[int, dict]:  # noqa: N802
        return _ok(True)

    def _getMyCommands(self, body: dict) -> tuple[int, dict]:  # noqa: N802
        commands = next((p.get("commands") for name, p in reversed(self.calls) if name == "setMyCommands"), [])
        return _ok(commands or [])

    def _message(self, chat_id, message_id: int, text: str) -> dict:
        return {"message_id": message_id, "date": int(time.time()), "text": text,
                "chat": {"id": int(chat_id), "type": "private"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "tradebot"}}

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                match = _PATH.match(self.path)
                if not match:
                    return self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                length = int(self.headers.get("Content-Length") or 0)
                body = _parse_body(self.rfile.read(length), self.headers.get("Content-Type") or "")
                status, reply = fake._answer(match["token"], match["method"], body)
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


def _parse_body(raw: bytes, content_type: str) -> dict:
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = {name: values[-1] for name, values in parse_qs(raw.decode(), keep_blank_values=True).items()}
        return {name: value if name in _TEXT_FIELDS else _json_or_text(value) for name, value in fields.items()}
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _json_or_text(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def _ok(result) -> tuple[int, dict]:
    return 200, {"ok": True, "result": result}


def _text_refusal(body: dict) -> tuple[int, dict] | None:
    """Telegram's answers to a text it will not send: longer than 4096 characters once the HTML is parsed, or HTML
    whose tags do not pair up (only what the bot's replies use is checked)."""
    text = body["text"]
    if body.get("parse_mode") == "HTML":
        for tag in ("pre", "b", "i", "code"):
            if text.count(f"<{tag}>") != text.count(f"</{tag}>"):
                return _bad_request(f"can't parse entities: can't find end tag corresponding to start tag \"{tag}\"")
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    if len(text) > 4096:
        return _bad_request("message is too long")
    return None


def _bad_request(description: str) -> tuple[int, dict]:
    return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}


@pytest.fixture
def fake_telegram():
    server = FakeTelegram().start()
    yield server
    server.stop()
