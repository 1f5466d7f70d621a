"""WebSocket test plumbing shared by the consumers' tests: the allowed origin, opening a
socket as a user (JWT in the query string), the close code, and fixtures that tidy up.
Every JSON frame a test receives is checked against its event type (tests/events.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from tests.events import assert_event

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
TIMEOUT = 5


class CheckedCommunicator(WebsocketCommunicator):
    """A communicator whose every JSON frame received must be a well-formed Theo event."""

    async def receive_json_from(self, timeout: float = 1) -> Any:
        return assert_event(await super().receive_json_from(timeout))


@pytest.fixture
def close_db_connections() -> Iterator[None]:
    """Consumers open connections in other threads; close them before the database is flushed."""
    yield
    connections.close_all()


@pytest.fixture
async def sockets() -> AsyncIterator[list[WebsocketCommunicator]]:
    """Every communicator opened in a test, disconnected at the end."""
    opened: list[WebsocketCommunicator] = []
    yield opened
    for communicator in opened:
        # Already finished when the server closed it (or a receive timed out): nothing to do.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await communicator.disconnect()


async def open_socket(
    sockets: list[WebsocketCommunicator], path: str, user: Any | None, *, timeout: float = TIMEOUT
) -> WebsocketCommunicator:
    """Connect to `path` as `user` (anonymous when None); the socket is accepted first."""
    if user is not None:
        path += f"?token={AccessToken.for_user(user)}"
    communicator = CheckedCommunicator(application(), path, headers=[ORIGIN])
    sockets.append(communicator)
    connected, _ = await communicator.connect(timeout=timeout)
    assert connected
    return communicator


async def closed_with(communicator: WebsocketCommunicator, *, timeout: float = TIMEOUT) -> int:
    """The close code, skipping any events sent before the close. Only codes daphne can
    send are accepted: it turns any other (1008, 1013...) into a crash and 1011."""
    for _ in range(50):
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            code = output.get("code", 1000)
            assert code == 1000 or 3000 <= code <= 4999, f"daphne cannot close with {code}"
            return code
    raise AssertionError("the socket was not closed")


def application() -> Any:
    from theo.asgi import application

    return application
