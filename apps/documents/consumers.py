"""The document room, /ws/documents/<id>/: live progress, presence and notes."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from apps.core.errors import NotFound
from apps.documents import presence
from apps.documents.realtime import PresenceUser, ProgressEvent, document_group, progress_event
from apps.documents.selectors import document_get_for
from apps.users.consumers import ApprovedUserConsumer

CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _readable_progress(user: Any, document_id: Any) -> ProgressEvent | None:
    """The document's current progress if `user` may read it, else None."""
    try:
        return progress_event(document_get_for(user=user, pk=document_id))
    except NotFound:
        return None


class DocumentRoomConsumer(ApprovedUserConsumer):
    """Those who may read the document: others are closed with 4404, as the API says 404.

    Out: {"type": "presence", "users"} and the current "progress" on connect; then
    "user.joined" / "user.left",
    "progress", "note.created", "deleted" as they happen. In: {"type": "ping"}."""

    route = "documents"

    async def on_connected(self) -> None:
        self.document_id = str(self.scope["url_route"]["kwargs"]["document_id"])
        self.in_room = False
        if await _readable_progress(self.user, self.document_id) is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.me: PresenceUser = {"id": str(self.user.pk), "display_name": self.user.display_name}
        # Join the group first, then read the state: nothing can happen in between unseen.
        await self.channel_layer.group_add(document_group(self.document_id), self.channel_name)
        users, arrived = await database_sync_to_async(presence.join)(self.document_id, self.channel_name, self.me)
        self.in_room = True
        await self.send_json({"type": "presence", "document_id": self.document_id, "users": users})
        current = await _readable_progress(self.user, self.document_id)
        if current is not None:
            await self.send_json(current)
        if arrived:
            await self._broadcast({"type": "user.joined", "user": self.me})

    async def disconnect(self, code: int) -> None:
        if getattr(self, "in_room", False):
            self.in_room = False
            await self.channel_layer.group_discard(document_group(self.document_id), self.channel_name)
            gone = await database_sync_to_async(presence.leave)(self.document_id, self.channel_name, self.me["id"])
            if gone:
                await self._broadcast({"type": "user.left", "user": self.me})
        await super().disconnect(code)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "code": "unknown_message", "message": 'Send {"type": "ping"}.'})

    async def _broadcast(self, event: dict[str, Any]) -> None:
        await self.channel_layer.group_send(
            document_group(self.document_id), {"type": "document.event", "event": event}
        )

    async def document_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        kind = event.get("type")
        if kind == "access.revoked":  # internal: only the reader who lost access hears of it
            if event.get("user_id") == self.me["id"]:
                await self.close(code=CLOSE_NOT_FOUND)
            return
        if kind in ("user.joined", "user.left") and event["user"]["id"] == self.me["id"]:
            return  # the presence list on connect already told this reader about themselves
        await self.send_json(event)
        if event.get("type") == "deleted":
            await self.close(code=CLOSE_NOT_FOUND)
