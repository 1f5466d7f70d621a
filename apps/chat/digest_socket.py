"""The chat socket's part in digests: a socket open on a conversation follows its group, so
`digest.progress`, `digest.done` and `digest.failed` (chat.realtime) reach every tab open on
it, whichever one started the digest (a digest runs in a Celery worker)."""

from __future__ import annotations

from typing import Any

from apps.chat import realtime


class DigestEventsMixin:
    """For ChatConsumer (before its base class): needs `conversation_id`, `channel_layer`,
    `channel_name`, `counted` and `send_json` from the consumer."""

    conversation_id: Any
    channel_layer: Any
    channel_name: str
    counted: bool
    in_conversation_group = False

    async def on_connected(self) -> None:
        await super().on_connected()  # type: ignore[misc]
        await self.channel_layer.group_add(realtime.conversation_group(self.conversation_id), self.channel_name)
        self.in_conversation_group = True

    async def disconnect(self, code: int) -> None:
        if self.in_conversation_group:
            self.in_conversation_group = False
            await self.channel_layer.group_discard(realtime.conversation_group(self.conversation_id), self.channel_name)
        await super().disconnect(code)  # type: ignore[misc]

    async def digest_event(self, message: realtime.DigestGroupMessage) -> None:
        """The channel layer's "digest.event": forward the event as it is."""
        if self.counted:
            await self.send_json(message["event"])  # type: ignore[attr-defined]
