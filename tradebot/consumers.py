"""The dashboard's WebSocket: authenticated users only, fed by ``tradebot.events``."""

from __future__ import annotations

import json

from channels.generic.websocket import AsyncWebsocketConsumer

from tradebot.events import DASHBOARD_GROUP


class DashboardConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept(): the handshake is refused with HTTP 403
            return
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """Clients only listen; anything they send is ignored."""

    async def bot_event(self, message):
        await self.send(text_data=await self.render(message["event"], message["data"]))

    async def render(self, event: str, data: dict) -> str:
        return json.dumps({"event": event, "data": data})
