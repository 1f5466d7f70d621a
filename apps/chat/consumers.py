"""/ws/chat/<conversation_id>/: ask in a conversation and watch the answer stream.

In: {"type": "message", "content": "..."} (and {"type": "ping"}: pong). Out: the events of chat.realtime (delta,
citations, done, error). Only the conversation's owner may connect (others: 4404). At most
CHAT_SOCKETS_PER_USER sockets per user (4008) and CHAT_SOCKETS_TOTAL in all (4013).
Each question is asked as the account and conversation are now (reloaded per message: a
role, budget or scope changed since the socket opened counts). An answer runs in a task
of its own: closing the socket does not stop it, and the answer is saved (the page shows
it on reload)."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from apps.chat import answer, realtime
from apps.chat.models import Conversation
from apps.chat.selectors import conversation_get_for
from apps.core.errors import NotFound
from apps.core.realtime import CLOSE_NOT_FOUND
from apps.users.consumers import ApprovedUserConsumer


@database_sync_to_async
def _conversation(user: Any, conversation_id: Any) -> Conversation | None:
    """The conversation if `user` owns it, with `user` (as loaded now) as its owner."""
    try:
        conversation = conversation_get_for(user=user, pk=conversation_id)
    except NotFound:
        return None
    conversation.owner = user  # the scope rule (guests: Bible only) reads the owner's role
    return conversation


class ChatConsumer(ApprovedUserConsumer):
    route = "chat"
    socket_limits = ("CHAT_SOCKETS_PER_USER", "CHAT_SOCKETS_TOTAL")
    expected = 'Send {"type": "message", "content": "your question"}.'
    refusals = {
        "user": "You have too many chat windows open; close one and try again.",
        "total": "Theo has too many open chats right now; try again in a moment.",
    }

    @property
    def max_frame_bytes(self) -> int:  # type: ignore[override]
        return settings.CHAT_MAX_FRAME_BYTES

    async def admit(self) -> int | None:
        self.answering: asyncio.Task | None = None
        self.conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        if await _conversation(self.user, self.conversation_id) is None:
            return CLOSE_NOT_FOUND
        return None

    async def handle(self, content: dict[str, Any]) -> None:
        if content.get("type") != "message":
            await super().handle(content)  # {"type": "ping"} -> pong, anything else: unknown_message
            return
        if self.answering is not None and not self.answering.done():
            await self.send_json(realtime.error("busy", "Wait for the current answer to finish."))
            return
        conversation = await _conversation(self.user, self.conversation_id)
        if conversation is None:  # deleted since the socket opened
            await self.close(code=CLOSE_NOT_FOUND)
            return
        queue = answer.start_answer(user=self.user, conversation=conversation, content=content.get("content"))
        self.answering = asyncio.get_running_loop().create_task(self._forward(queue))

    async def _forward(self, queue: asyncio.Queue) -> None:
        """Until the client leaves; the answer itself goes on, finishes and is saved."""
        async for event in answer.events_of(queue):
            if not self.counted:
                return
            try:
                await self.send_json(event)
            except Exception:
                return
