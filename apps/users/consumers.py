"""The base of every Theo WebSocket consumer, and the signed-in user's own event socket."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core.metrics import WEBSOCKET_CONNECTIONS
from apps.users.realtime import user_group
from apps.users.websocket import CLOSE_NOT_APPROVED, close_code_for


class ApprovedUserConsumer(AsyncJsonWebsocketConsumer):
    """Accepts approved users only (4401 anonymous, 4403 not approved) and closes every
    socket of an account the moment it is suspended (event `account.revoked`)."""

    route = "base"

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.counted = False
        close_code = close_code_for(self.user)
        # Accept first: a close code can only be sent on an open socket.
        await self.accept()
        if close_code is not None:
            await self.close(code=close_code)
            return
        await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
        WEBSOCKET_CONNECTIONS.labels(self.route).inc()
        self.counted = True
        await self.on_connected()

    async def on_connected(self) -> None:
        """Hook for subclasses: the user is approved and the socket is open."""

    async def disconnect(self, code: int) -> None:
        if self.counted:
            WEBSOCKET_CONNECTIONS.labels(self.route).dec()
            self.counted = False
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)

    async def account_revoked(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_NOT_APPROVED)


class UserEventsConsumer(ApprovedUserConsumer):
    """/ws/events/: account-wide notifications for the signed-in user."""

    route = "events"

    async def on_connected(self) -> None:
        await self.send_json(
            {
                "type": "hello",
                "user": {
                    "id": str(self.user.pk),
                    "email": self.user.email,
                    "display_name": self.user.display_name,
                    "role": self.user.role,
                },
            }
        )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "code": "unknown_message", "message": 'Send {"type": "ping"}.'})
