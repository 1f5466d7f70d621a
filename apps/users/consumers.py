"""The base of every Theo WebSocket consumer, and the signed-in user's own event socket."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from apps.core import sockets
from apps.core.metrics import WEBSOCKET_CONNECTIONS
from apps.core.realtime import (
    CLOSE_NOT_APPROVED,
    CLOSE_RECONNECT,
    CLOSE_TOO_MANY_SOCKETS,
    CLOSE_TRY_AGAIN_LATER,
    error,
    pong,
)
from apps.users import realtime
from apps.users.models import User
from apps.users.websocket import close_code_for


@database_sync_to_async
def current_user(user_id: Any) -> User | None:
    return User.objects.filter(pk=user_id).first()


class ApprovedUserConsumer(AsyncJsonWebsocketConsumer):
    """Accepts approved users only (4401 anonymous, 4403 not approved), at most
    `socket_limits` sockets of the route per user (4008) and in all (4013), and closes
    every socket of an account when it is suspended (4403) or its role or password
    changes (4000: reconnect).

    Frames: JSON objects in text frames. A binary frame, a frame over `max_frame_bytes`,
    text that is not JSON or JSON that is not an object gets an `error` event, never a
    crash. Each message is handled with the account as it is now (reloaded, not the one
    that connected): a suspended account is closed instead, a demoted one has its new role,
    a budget set to 0 counts at once."""

    route = "base"
    # Names of the settings that cap this route: (per user, in total); None: no cap.
    socket_limits: ClassVar[tuple[str, str] | None] = None
    max_frame_bytes = 4096
    expected = 'Send {"type": "ping"}.'
    refusals: ClassVar[dict[str, str]] = {
        "user": "You have too many of these connections open; close a tab and try again.",
        "total": "Theo has too many open connections right now; try again in a moment.",
    }

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.counted = False
        self.registered = False
        self.in_user_group = False
        close_code = close_code_for(self.user)
        # Accept first: a close code can only be sent on an open socket.
        await self.accept()
        if close_code is None:
            # Follow the account's events, then read it again: a suspension or role change
            # that commits while the socket opens is either read here or arrives as an event.
            await self.channel_layer.group_add(realtime.user_group(self.user.pk), self.channel_name)
            self.in_user_group = True
            self.user = await current_user(self.user.pk)
            close_code = close_code_for(self.user)
        if close_code is None:
            close_code = await self.admit()
        if close_code is None:
            close_code = await self._register()
        if close_code is not None:
            await self.close(code=close_code)
            return
        WEBSOCKET_CONNECTIONS.labels(self.route).inc()
        self.counted = True
        await self.on_connected()

    async def admit(self) -> int | None:
        """Hook: the user is approved; return a close code to refuse them here (e.g. 4404)."""
        return None

    async def on_connected(self) -> None:
        """Hook: the user is admitted, counted and the socket is open."""

    async def _register(self) -> int | None:
        if self.socket_limits is None:
            return None
        per_user, total = (getattr(settings, name) for name in self.socket_limits)
        refused = await database_sync_to_async(sockets.socket_open)(
            route=self.route, user_id=self.user.pk, channel_name=self.channel_name, per_user=per_user, total=total
        )
        if not refused:
            self.registered = True
            await sockets.keep_fresh()
            return None
        await self.send_json(error("too_many_connections", self.refusals[refused]))
        return CLOSE_TRY_AGAIN_LATER if refused == "total" else CLOSE_TOO_MANY_SOCKETS

    async def disconnect(self, code: int) -> None:
        if self.registered:
            self.registered = False
            await database_sync_to_async(sockets.socket_closed)(
                route=self.route, user_id=self.user.pk, channel_name=self.channel_name
            )
        if self.counted:
            WEBSOCKET_CONNECTIONS.labels(self.route).dec()
            self.counted = False
        if self.in_user_group:
            self.in_user_group = False
            await self.channel_layer.group_discard(realtime.user_group(self.scope["user"].pk), self.channel_name)

    # --- frames in ---------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            await self.send_json(error("binary_not_supported", f"Send JSON in text frames. {self.expected}"))
            return
        if len(text_data) > self.max_frame_bytes or len(text_data.encode()) > self.max_frame_bytes:
            await self.send_json(error("message_too_large", f"Messages are limited to {self.max_frame_bytes} bytes."))
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_json(error("invalid_json", f"That was not JSON. {self.expected}"))
            return
        if not isinstance(content, dict):
            await self.send_json(error("unknown_message", self.expected))
            return
        if not self.counted or not await self.refresh_user():
            return  # refused or closing: nothing is handled
        await self.handle(content)

    async def refresh_user(self) -> bool:
        """Reload the account; close the socket (and say False) if it may no longer be here."""
        user = await current_user(self.user.pk)
        close_code = close_code_for(user)
        if close_code is None and user is not None and user.password != self.user.password:
            # Changed by a route that sends no event (e.g. `manage.py changepassword`): the
            # socket must not outlive the credentials it was opened with.
            close_code = CLOSE_RECONNECT
        if close_code is not None:
            await self.close(code=close_code)
            return False
        self.user = user
        return True

    async def handle(self, content: dict[str, Any]) -> None:
        """A JSON object from an account that is approved right now."""
        if content.get("type") == "ping":
            await self.send_json(pong())
        else:
            await self.send_json(error("unknown_message", self.expected))

    # --- events from the user's group --------------------------------------------------

    async def account_revoked(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_RECONNECT if event.get("reason") == "rights_changed" else CLOSE_NOT_APPROVED)


class UserEventsConsumer(ApprovedUserConsumer):
    """/ws/events/: account-wide notifications for the signed-in user."""

    route = "events"
    socket_limits = ("EVENTS_SOCKETS_PER_USER", "EVENTS_SOCKETS_TOTAL")

    async def on_connected(self) -> None:
        await self.send_json(realtime.hello(self.user))
