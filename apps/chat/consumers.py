"""/ws/chat/<conversation_id>/: ask in a conversation and watch the answer stream.

In: {"type": "message", "content": "..."}. Out: the events of chat.realtime (delta,
citations, done, error). Only the conversation's owner may connect (others: 4404). At most
CHAT_SOCKETS_PER_USER sockets per user (1008) and CHAT_SOCKETS_TOTAL in all (1013).
An answer runs in a task of its own: closing the socket does not stop it, and the answer
is saved (the page shows it on reload)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from apps.chat import answer, realtime, sockets
from apps.chat.selectors import conversation_get_for
from apps.core.errors import NotFound
from apps.users.consumers import ApprovedUserConsumer

CLOSE_NOT_FOUND = 4404
CLOSE_POLICY_VIOLATION = 1008  # too many sockets of one user
CLOSE_TRY_AGAIN_LATER = 1013  # the server's socket cap is reached


class ChatConsumer(ApprovedUserConsumer):
    route = "chat"

    async def on_connected(self) -> None:
        self.registered = False
        self.answering: asyncio.Task | None = None
        try:
            self.conversation = await database_sync_to_async(conversation_get_for)(
                user=self.user, pk=self.scope["url_route"]["kwargs"]["conversation_id"]
            )
        except NotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        refused = await database_sync_to_async(sockets.socket_open)(
            user_id=self.user.pk,
            channel_name=self.channel_name,
            per_user=settings.CHAT_SOCKETS_PER_USER,
            total=settings.CHAT_SOCKETS_TOTAL,
        )
        if refused:
            code = CLOSE_TRY_AGAIN_LATER if refused == "total" else CLOSE_POLICY_VIOLATION
            await self.send_json(realtime.error("too_many_connections", _REFUSALS[refused]))
            await self.close(code=code)
            return
        self.registered = True

    async def disconnect(self, code: int) -> None:
        if getattr(self, "registered", False):
            self.registered = False
            await database_sync_to_async(sockets.socket_closed)(user_id=self.user.pk, channel_name=self.channel_name)
        await super().disconnect(code)

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        """Size check before parsing: an oversized frame is refused, not decoded."""
        raw = message.get("text") or message.get("bytes") or ""
        if len(raw) > settings.CHAT_MAX_FRAME_BYTES:
            await self.send_json(
                realtime.error("message_too_large", f"Messages are limited to {settings.CHAT_MAX_FRAME_BYTES} bytes.")
            )
            return
        await super().websocket_receive(message)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not getattr(self, "registered", False):
            return
        if not isinstance(content, dict) or content.get("type") != "message":
            await self.send_json(
                realtime.error("unknown_message", 'Send {"type": "message", "content": "your question"}.')
            )
            return
        if self.answering is not None and not self.answering.done():
            await self.send_json(realtime.error("busy", "Wait for the current answer to finish."))
            return
        queue = answer.start_answer(user=self.user, conversation=self.conversation, content=content.get("content"))
        self.answering = asyncio.get_running_loop().create_task(self._forward(queue))

    async def _forward(self, queue: asyncio.Queue) -> None:
        async for event in answer.events_of(queue):
            if not getattr(self, "registered", False):
                continue  # the client left: the answer still finishes and is saved
            try:
                await self.send_json(event)
            except Exception:
                self.registered = False


_REFUSALS = {
    "user": "You have too many chat windows open; close one and try again.",
    "total": "Theo has too many open chats right now; try again in a moment.",
}
