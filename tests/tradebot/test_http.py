"""HTTP under daphne: Django's WSGI handler in a bounded pool of threads (tradebot.http)."""

from __future__ import annotations

import asyncio
import threading
import time

from django.conf import settings

from tradebot.asgi import application
from tradebot.http import DjangoHTTP


async def call(app, path: str) -> tuple[int, bytes]:
    sent = []
    requested = False

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # nothing more arrives: the client waits for the answer

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000), "scheme": "http", "http_version": "1.1"}
    await app(scope, receive, send)
    status = next(message["status"] for message in sent if message["type"] == "http.response.start")
    return status, b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")


def test_a_burst_runs_at_most_the_pools_size_at_once_and_every_request_is_answered():
    inside, peak, lock = 0, 0, threading.Lock()

    def wsgi_app(environ, start_response):
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        time.sleep(0.01)  # a view that blocks on the database
        with lock:
            inside -= 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    app = DjangoHTTP(wsgi_app, threads=4)

    async def burst():
        return await asyncio.gather(*(call(app, f"/{n}") for n in range(40)))

    answers = asyncio.run(burst())
    assert peak == 4
    assert sorted(answers) == sorted((200, f"/{n}".encode()) for n in range(40))


def test_the_deployed_application_serves_django_with_the_configured_number_of_threads(db):
    http = application.application_mapping["http"]
    assert isinstance(http, DjangoHTTP) and http.threads == settings.MAX_CONCURRENT_REQUESTS == 4

    status, body = asyncio.run(call(http, "/healthz"))

    assert (status, body) == (200, b"{\"status\": \"ok\"}")


def test_every_response_is_closed_so_django_finishes_the_request():
    """asgiref's adapter never called close(): Django's request_finished never fired, and the database connection
    of each request was only given back at the next request of the same thread."""
    closed = []

    class Response:
        def __iter__(self):
            yield b"done"

        def close(self):
            closed.append(True)

    def wsgi_app(environ, start_response):
        start_response("200 OK", [])
        return Response()

    assert asyncio.run(call(DjangoHTTP(wsgi_app, threads=1), "/")) == (200, b"done")
    assert closed == [True]


def test_a_client_gone_before_its_body_arrived_is_not_an_error():
    called = []

    def wsgi_app(environ, start_response):
        called.append(True)
        start_response("200 OK", [])
        return [b""]

    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/strategies", "raw_path": b"/api/strategies",
             "query_string": b"", "root_path": "", "headers": [], "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000), "scheme": "http", "http_version": "1.1"}
    asyncio.run(DjangoHTTP(wsgi_app, threads=1)(scope, receive, send))
    assert called == [] and sent == []
