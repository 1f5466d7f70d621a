"""The document room, /ws/documents/<id>/: live progress, presence and notes."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from apps.core.errors import NotFound
from apps.core.realtime import CLOSE_NOT_FOUND
from apps.documents import presence, realtime
from apps.documents.models import Document
from apps.documents.selectors import document_get_for
from apps.users.consumers import ApprovedUserConsumer
from apps.users.models import User
from apps.users.websocket import close_code_for


@database_sync_to_async
def _readable_progress(user: Any, document_id: Any) -> realtime.ProgressEvent | None:
    """The document's current progress if `user` may read it, else None."""
    try:
        return realtime.progress_event(document_get_for(user=user, pk=document_id))
    except NotFound:
        return None


@database_sync_to_async
def _may_stay(user_id: Any, document_id: Any) -> tuple[int | None, bool, User | None]:
    """(None, False, the account as it is now) while it may read the document; else (the
    close code, whether the document is gone, None)."""
    user = User.objects.filter(pk=user_id).first()
    close_code = close_code_for(user)
    if close_code is not None:
        return close_code, False, None
    try:
        document_get_for(user=user, pk=document_id)
    except NotFound:
        return CLOSE_NOT_FOUND, not Document.objects.filter(pk=document_id).exists(), None
    return None, False, user


class DocumentRoomConsumer(ApprovedUserConsumer):
    """Those who may read the document: others are closed with 4404, as the API says 404.

    Out: {"type": "presence", "users", "count"} and the current "progress" on connect; then
    "user.joined" / "user.left", "progress", "note.created", "deleted" as they happen. In:
    {"type": "ping"}. Access is checked again before every event is delivered and every
    message handled: a reader who lost it (share removed by any route, account demoted or
    suspended) is closed with 4404 (4403 when no longer approved) and hears nothing more.
    Unsharing also closes the sharee's sockets at once (event access.revoked)."""

    route = "documents"
    socket_limits = ("ROOM_SOCKETS_PER_USER", "ROOM_SOCKETS_TOTAL")

    async def admit(self) -> int | None:
        self.document_id = str(self.scope["url_route"]["kwargs"]["document_id"])
        self.in_room = False
        self.leaving = False
        if await _readable_progress(self.user, self.document_id) is None:
            return CLOSE_NOT_FOUND
        return None

    async def on_connected(self) -> None:
        self.me: realtime.PresenceUser = {"id": str(self.user.pk), "display_name": self.user.display_name}
        # Join the group first, then read the state: nothing can happen in between unseen.
        await self.channel_layer.group_add(realtime.document_group(self.document_id), self.channel_name)
        users, count, arrived = await database_sync_to_async(presence.join)(
            self.document_id, self.channel_name, self.me
        )
        self.in_room = True
        await self.send_json(realtime.presence_list(self.document_id, users=users, count=count))
        current = await _readable_progress(self.user, self.document_id)
        if current is not None:
            await self.send_json(current)
        if arrived:
            await self._broadcast(realtime.user_joined(self.me))

    async def disconnect(self, code: int) -> None:
        if getattr(self, "in_room", False):
            self.in_room = False
            await self.channel_layer.group_discard(realtime.document_group(self.document_id), self.channel_name)
            gone = await database_sync_to_async(presence.leave)(self.document_id, self.channel_name, self.me["id"])
            if gone:
                await self._broadcast(realtime.user_left(self.me))
        await super().disconnect(code)

    async def refresh_user(self) -> bool:
        """Before each message: the account as it is now, and still a reader here."""
        return await self._still_allowed()

    async def _still_allowed(self) -> bool:
        close_code, deleted, user = await _may_stay(self.user.pk, self.document_id)
        if deleted:  # its "deleted" event is on the way; the reader need not wait for it
            await self.send_json(realtime.deleted(self.document_id))
        if close_code is not None:
            await self._leave(close_code)
            return False
        self.user = user
        return True

    async def _leave(self, close_code: int) -> None:
        """Out of the group now (no further event reaches this socket), then closed."""
        self.leaving = True
        if self.in_room:
            await self.channel_layer.group_discard(realtime.document_group(self.document_id), self.channel_name)
        await self.close(code=close_code)

    async def _broadcast(self, event: realtime.DocumentEvent) -> None:
        await self.channel_layer.group_send(realtime.document_group(self.document_id), realtime.group_message(event))

    async def document_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        kind = event.get("type")
        if not self.in_room or self.leaving:
            return
        if kind == "access.revoked":  # internal: only the reader who lost access hears of it
            if event.get("user_id") == self.me["id"]:
                await self._leave(CLOSE_NOT_FOUND)
            return
        if kind in ("user.joined", "user.left") and event["user"]["id"] == self.me["id"]:
            return  # the presence list on connect already told this reader about themselves
        if kind == "deleted":  # the document is gone, so there is no access left to check
            await self.send_json(event)
            await self._leave(CLOSE_NOT_FOUND)
            return
        if await self._still_allowed():
            await self.send_json(event)
