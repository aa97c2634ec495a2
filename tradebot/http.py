"""HTTP under daphne: Django's WSGI handler, run whole in a thread of a bounded pool.

Every view of this project is synchronous. Django's ASGI handler runs a request's middleware and view by hopping
between the event loop and a thread several times (into a thread for the middleware, back to the loop for the
view lookup, into the thread again for each ``process_view`` and for the view); under load each hop waits for a
busy loop or a busy thread, and the hops cost more than most views. Here a request crosses once: its body is
read in the loop, then the WSGI handler runs start to finish in one of ``MAX_CONCURRENT_REQUESTS`` threads, each
holding at most one database connection (pooled: ``DATABASE_POOL_SIZE``). Requests beyond that wait in the
loop, costing a coroutine, not a thread or a connection. WebSockets stay on Channels in the loop
(``tradebot.asgi``). benchmarks/load_bench.py measures the difference.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from tempfile import SpooledTemporaryFile

from asgiref.sync import AsyncToSync, sync_to_async
from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance


def _run_wsgi_app(self: WsgiToAsgiInstance, body) -> None:
    """asgiref's ``run_wsgi_app``, plus what it leaves out: the response's ``close()``, which is where Django
    sends ``request_finished`` (database connections go back, file responses close)."""
    try:
        environ = self.build_environ(self.scope, body)
    except ValueError:  # too many duplicate headers
        self.sync_send({"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"text/plain")]})
        self.sync_send({"type": "http.response.body", "body": b"Bad Request: too many duplicate headers"})
        return
    result = self.wsgi_application(environ, self.start_response)
    try:
        for chunk in result:
            if not self.response_started:
                self.response_started = True
                self.sync_send(self.response_start)
            if chunk:
                self.sync_send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not self.response_started:
        self.response_started = True
        self.sync_send(self.response_start)
    self.sync_send({"type": "http.response.body"})


class DjangoHTTP(WsgiToAsgi):
    def __init__(self, wsgi_application, threads: int):
        super().__init__(wsgi_application)
        self.threads = threads
        executor = ThreadPoolExecutor(threads, thread_name_prefix="http")

        class Instance(WsgiToAsgiInstance):
            # asgiref's own adapter runs every request in one shared thread (thread_sensitive=True): one at a time.
            run_wsgi_app = sync_to_async(_run_wsgi_app, thread_sensitive=False, executor=executor)

            async def __call__(self, scope, receive, send):
                """As asgiref's, except that a client gone before its body arrived ends the request quietly (asgiref
                raised, and daphne logged a traceback for every such client)."""
                self.scope = scope
                with SpooledTemporaryFile(max_size=65536) as body:
                    while True:
                        message = await receive()
                        if message["type"] == "http.disconnect":
                            return
                        body.write(message.get("body", b""))
                        if not message.get("more_body"):
                            break
                    body.seek(0)
                    self.sync_send = AsyncToSync(send)
                    await self.run_wsgi_app(body)

        self._instance = Instance

    async def __call__(self, scope, receive, send):
        await self._instance(self.wsgi_application, self.duplicate_header_limit)(scope, receive, send)
