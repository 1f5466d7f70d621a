"""/ws/chat/<conversation_id>/: ask in a conversation and watch the answer stream.

In: {"type": "message", "content": "..."} (and {"type": "ping"}: pong). Out: the events of chat.realtime (delta,
citations, done, error). Only the conversation's owner may connect (others: 4404). At most
CHAT_SOCKETS_PER_USER sockets per user (4008) and CHAT_SOCKETS_TOTAL in all (4013).
Each question is admitted (chat.admission) and asked as the account and conversation are
now (both read per message: a role, budget, persona or scope changed since the socket
opened counts). An answer runs in a task
of its own: closing the socket does not stop it, and the answer is saved (the page shows
it on reload)."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from apps.chat import answer, realtime
from apps.chat.admission import Admission, question_admit, refusal_event
from apps.chat.digest_socket import DigestEventsMixin
from apps.chat.selectors import conversation_get_for
from apps.core.errors import NotFound, TheoError
from apps.core.realtime import CLOSE_NOT_FOUND
from apps.users.consumers import ApprovedUserConsumer


@database_sync_to_async
def _owns(user: Any, conversation_id: Any) -> bool:
    try:
        conversation_get_for(user=user, pk=conversation_id)
    except NotFound:
        return False
    return True


@database_sync_to_async
def _admit(user: Any, conversation_id: Any, content: Any) -> Admission | None:
    """The question admitted in the conversation as it is now; None when `user` no longer
    has it (deleted since the socket opened). Raises the refusal (TheoError)."""
    try:
        conversation = conversation_get_for(user=user, pk=conversation_id)
    except NotFound:
        return None
    return question_admit(user=user, conversation=conversation, content=content)


class ChatConsumer(DigestEventsMixin, ApprovedUserConsumer):  # digest events: chat.digest_socket
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
        if not await _owns(self.user, self.conversation_id):
            return CLOSE_NOT_FOUND
        return None

    async def handle(self, content: dict[str, Any]) -> None:
        if content.get("type") != "message":
            await super().handle(content)  # {"type": "ping"} -> pong, anything else: unknown_message
            return
        if self.answering is not None and not self.answering.done():
            await self.send_json(realtime.error("busy", "Wait for the current answer to finish."))
            return
        try:
            admission = await _admit(self.user, self.conversation_id, content.get("content"))
        except TheoError as error:  # invalid, too long for the window, or over the rate limit
            await self.send_json(refusal_event(error))
            return
        if admission is None:  # deleted since the socket opened
            await self.close(code=CLOSE_NOT_FOUND)
            return
        queue = answer.start_answer(admission=admission)
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
