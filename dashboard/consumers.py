"""The dashboard's WebSocket: authenticated users only, fed by ``core.events``.

Two dialects. By default each event goes out as JSON ``{"event": ..., "data": ...}``, for scripts and
tests. A browser page connects with ``?format=html`` (and ``&symbols=BTCUSDT,...``, the price slots it
has) and gets server-rendered fragments for the htmx ws extension instead (``dashboard.live``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import connections

from core.events import DASHBOARD_GROUP, Event, session_group
from dashboard import live

logger = logging.getLogger(__name__)

SESSION_ENDED = 4401  # a private close code (4000-4999): live.js sends the page to the login page

# Fragments render in threads of their own (they may read the database or the exchange), never in the HTTP
# threads, and at most RENDER_THREADS at once: ``manage.py runweb`` sizes the connection pool for both.
RENDER_THREADS = 2
_render_pool = ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="live-render")
# One event reaches every open dashboard of this process within a millisecond: the first socket renders each
# fragment, the others wait for and reuse its result (kept SHARED_SECONDS) instead of rendering it again.
SHARED_SECONDS = 1.0
_shared: dict[tuple, asyncio.Future] = {}


class DashboardConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept(): the handshake is refused with HTTP 403
            return
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        self.html = query.get("format", ["json"])[0] == "html"
        self.symbols = live.parse_symbols(query.get("symbols", [""])[0])
        self.page = query.get("page", ["dashboard"])[0]
        session = self.scope.get("session")
        self.groups_joined = [DASHBOARD_GROUP] + ([session_group(session.session_key)]
                                                  if session is not None and session.session_key else [])
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def session_ended(self, message):
        """The session logged out (in any tab): close with SESSION_ENDED, and the page goes to the login page."""
        await self.close(code=SESSION_ENDED)

    async def receive(self, text_data=None, bytes_data=None):
        """Clients only listen; anything they send is ignored."""

    async def bot_events(self, message):
        """Several events sent as one message (``core.events.publish_many``: a cycle's prices), each as if alone."""
        for event in message["events"]:
            await self.bot_event(event)

    async def bot_event(self, message):
        event, data = message["event"], message["data"]
        if not self.html:
            await self.send(text_data=json.dumps({"event": event, "data": data}))
            return
        if self.page != "dashboard":
            signal = live.page_signal(event)
            if signal:
                await self.send(text_data=signal)
            return
        key = (event, json.dumps(data, sort_keys=True, default=str), frozenset(self.symbols))
        for index, render in enumerate(live.plan(event, data, symbols=self.symbols)):
            try:
                html = await _render_shared((*key, index), render)
            except Exception:  # noqa: BLE001 - one fragment failing must not close the socket or lose the rest
                logger.exception("could not render a live fragment", extra={"event": event})
                continue
            if html:
                if event == Event.MARKET_UPDATE:
                    self.symbols.add(data["symbol"])  # the page has its slot now (done by the render that ran)
                await self.send(text_data=html)


async def _render_shared(key: tuple, render) -> str:
    """The fragment for ``key``, rendered once per process however many sockets ask for it at once."""
    loop = asyncio.get_running_loop()
    found = _shared.get(key)
    if found is not None and found.get_loop() is loop:
        return await asyncio.shield(found)
    future = loop.create_future()
    _shared[key] = future
    loop.call_later(SHARED_SECONDS, _forget, key, future)
    try:
        html = await sync_to_async(_render_once, thread_sensitive=False, executor=_render_pool)(render)
    except BaseException as error:
        future.set_exception(error)
        future.exception()  # retrieved: a failure nobody else awaited is not reported again by asyncio
        raise
    future.set_result(html)
    return html


def _forget(key: tuple, future: asyncio.Future) -> None:
    if _shared.get(key) is future:
        del _shared[key]


def _render_once(render) -> str:
    """Render in a pool thread, then close that thread's database connection: events are a few a minute, and
    a persistent connection (CONN_MAX_AGE) per pool thread would sit idle in between."""
    try:
        return render()
    finally:
        connections.close_all()
