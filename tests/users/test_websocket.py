"""WebSocket sign-in: session cookie or ?token=; anonymous 4401, not approved 4403."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from apps.users.models import User
from apps.users.services import user_suspend
from tests.users.factories import UserFactory
from theo.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture(autouse=True)
def _close_db_connections():
    yield
    connections.close_all()


async def connect(path: str = "/ws/events/", headers: list | None = None) -> tuple[WebsocketCommunicator, dict]:
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN, *(headers or [])])
    connected, _ = await communicator.connect()
    assert connected
    return communicator, await communicator.receive_output(timeout=3)


async def make_user(**fields) -> User:
    return await sync_to_async(UserFactory)(**fields)


async def session_cookie_for(user: User) -> tuple[bytes, bytes]:
    from django.test import Client

    client = Client()
    await sync_to_async(client.force_login)(user)
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())


async def test_anonymous_is_closed_with_4401():
    _communicator, message = await connect()
    assert message == {"type": "websocket.close", "code": 4401}


async def test_invalid_token_is_closed_with_4401():
    _communicator, message = await connect("/ws/events/?token=not-a-token")
    assert message == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize("status", ["pending", "denied", "suspended"])
async def test_not_approved_token_is_closed_with_4403(status):
    user = await make_user(status=status)
    _communicator, message = await connect(f"/ws/events/?token={AccessToken.for_user(user)}")
    assert message == {"type": "websocket.close", "code": 4403}


async def test_approved_user_by_token_is_welcomed():
    user = await make_user()
    communicator, message = await connect(f"/ws/events/?token={AccessToken.for_user(user)}")
    assert message["type"] == "websocket.send"
    hello = json.loads(message["text"])
    assert hello["type"] == "hello"
    assert hello["user"]["id"] == str(user.pk)
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


async def test_approved_user_by_session_cookie_is_welcomed():
    user = await make_user()
    communicator, message = await connect(headers=[await session_cookie_for(user)])
    assert message["type"] == "websocket.send"
    await communicator.disconnect()


async def test_session_of_a_suspended_user_is_closed_with_4403():
    user = await make_user()
    cookie = await session_cookie_for(user)
    await sync_to_async(User.objects.filter(pk=user.pk).update)(status=User.Status.SUSPENDED)
    _communicator, message = await connect(headers=[cookie])
    assert message == {"type": "websocket.close", "code": 4403}


async def test_suspension_closes_open_sockets():
    user = await make_user()
    admin = await make_user(role=User.Role.ADMIN)
    communicator, message = await connect(f"/ws/events/?token={AccessToken.for_user(user)}")
    assert message["type"] == "websocket.send"
    await sync_to_async(user_suspend)(user=user, actor=admin, reason="Spam")
    closed = await communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4403}


async def test_foreign_origin_is_rejected():
    user = await make_user()
    communicator = WebsocketCommunicator(
        application,
        f"/ws/events/?token={AccessToken.for_user(user)}",
        headers=[(b"origin", b"https://evil.example.com")],
    )
    connected, _ = await communicator.connect()
    assert not connected
