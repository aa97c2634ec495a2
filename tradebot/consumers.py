"""The dashboard's WebSocket: authenticated users only, fed by ``tradebot.events``.

Two dialects. By default each event goes out as JSON ``{"event": ..., "data": ...}``, for scripts and
tests. A browser page connects with ``?format=html`` (and ``&symbols=BTCUSDT,...``, the price slots it
has) and gets server-rendered fragments for the htmx ws extension instead (``tradebot.live``).
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import connections

from tradebot import live
from tradebot.events import DASHBOARD_GROUP

logger = logging.getLogger(__name__)


class DashboardConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept(): the handshake is refused with HTTP 403
            return
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        self.html = query.get("format", ["json"])[0] == "html"
        self.symbols = live.parse_symbols(query.get("symbols", [""])[0])
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """Clients only listen; anything they send is ignored."""

    async def bot_event(self, message):
        event, data = message["event"], message["data"]
        if not self.html:
            await self.send(text_data=json.dumps({"event": event, "data": data}))
            return
        for render in live.plan(event, data, symbols=self.symbols):
            try:
                # Off the event loop and off the thread Django's sync views share: a fragment may wait on
                # the database or the exchange, and must delay neither the other events nor the pages.
                html = await sync_to_async(_render_once, thread_sensitive=False)(render)
            except Exception:  # noqa: BLE001 - one fragment failing must not close the socket or lose the rest
                logger.exception("could not render a live fragment", extra={"event": event})
                continue
            if html:
                await self.send(text_data=html)


def _render_once(render) -> str:
    """Render in a pool thread, then close that thread's database connection: events are a few a minute, and
    a persistent connection (CONN_MAX_AGE) per pool thread would sit idle in between."""
    try:
        return render()
    finally:
        connections.close_all()
