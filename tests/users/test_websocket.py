"""WebSocket sign-in (session cookie or ?token=; anonymous 4401, not approved 4403), the
frames every socket refuses cleanly, the /ws/events/ caps, and sockets that follow the
account's current rights (closed on suspension, role and password changes)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from apps.core import sockets as registry
from apps.core.redis import redis_client
from apps.users.models import User
from apps.users.realtime import HelloEvent
from apps.users.services import user_delete, user_set_password, user_suspend, user_update
from tests.events import assert_event
from tests.users.factories import UserFactory
from tests.websockets import CheckedCommunicator, closed_with, open_socket
from theo.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture(autouse=True)
def _close_db_connections():
    yield
    connections.close_all()


async def connect(path: str = "/ws/events/", headers: list | None = None) -> tuple[WebsocketCommunicator, dict]:
    communicator = CheckedCommunicator(application, path, headers=[ORIGIN, *(headers or [])])
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
    assert_event(hello, HelloEvent)
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


# --- frames that are not JSON objects: an error event, never a crash (1011) ---------------


async def welcomed(user: User) -> WebsocketCommunicator:
    communicator, message = await connect(f"/ws/events/?token={AccessToken.for_user(user)}")
    assert json.loads(message["text"])["type"] == "hello"
    assert_event(json.loads(message["text"]), HelloEvent)
    return communicator


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"bytes_data": b"\x00\x01binary"}, "binary_not_supported"),
        ({"text_data": "not json"}, "invalid_json"),
        ({"text_data": "[1, 2]"}, "unknown_message"),
        ({"text_data": '"ping"'}, "unknown_message"),
        ({"text_data": json.dumps({"type": "ping", "pad": "x" * 5000})}, "message_too_large"),
        ({"text_data": json.dumps({"type": "shout"})}, "unknown_message"),
    ],
    ids=["binary", "not-json", "array", "string", "too-large", "unknown-type"],
)
async def test_a_bad_frame_gets_an_error_event_and_the_socket_stays_open(frame, code):
    communicator = await welcomed(await make_user())
    await communicator.send_to(**frame)
    error = await communicator.receive_json_from(timeout=3)
    assert error["type"] == "error" and error["code"] == code and error["message"]
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}
    await communicator.disconnect()


# --- caps ------------------------------------------------------------------------------


async def test_events_sockets_are_capped_per_user(sockets, settings):
    settings.EVENTS_SOCKETS_PER_USER = 2
    user, other = await make_user(), await make_user()
    for _ in range(2):
        await open_socket(sockets, "/ws/events/", user)
    third = await open_socket(sockets, "/ws/events/", user)
    refusal = await third.receive_json_from(timeout=3)
    assert refusal["type"] == "error" and refusal["code"] == "too_many_connections"
    assert await closed_with(third) == 4008
    # Someone else is not affected, and a closed socket frees its place.
    assert (await (await open_socket(sockets, "/ws/events/", other)).receive_json_from(timeout=3))["type"] == "hello"
    await sockets[0].disconnect()
    fourth = await open_socket(sockets, "/ws/events/", user)
    assert (await fourth.receive_json_from(timeout=3))["type"] == "hello"


async def test_events_sockets_have_a_cap_across_processes(sockets, settings):
    user = await make_user()
    settings.EVENTS_SOCKETS_TOTAL = await sync_to_async(registry.open_count)(route="events")
    socket = await open_socket(sockets, "/ws/events/", user)
    assert (await socket.receive_json_from(timeout=3))["code"] == "too_many_connections"
    assert await closed_with(socket) == 4013


# --- the rights a socket works with are the account's current ones ---------------------


async def test_a_role_change_closes_the_accounts_sockets_to_reconnect():
    user = await make_user(role=User.Role.GUEST)
    admin = await make_user(role=User.Role.ADMIN)
    communicator = await welcomed(user)
    await sync_to_async(user_update)(user=user, actor=admin, role=User.Role.USER)
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4000}
    again = await welcomed(user)  # the reconnect says who the account is now
    await again.disconnect()


async def test_a_budget_change_does_not_close_sockets():
    user = await make_user()
    admin = await make_user(role=User.Role.ADMIN)
    communicator = await welcomed(user)
    await sync_to_async(user_update)(user=user, actor=admin, monthly_budget_usd=Decimal("0"))
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}
    await communicator.disconnect()


async def test_a_password_change_closes_sockets_and_the_old_token_no_longer_connects():
    user = await make_user()
    old_token = AccessToken.for_user(user)
    communicator, _ = await connect(f"/ws/events/?token={old_token}")
    await sync_to_async(user_set_password)(user=user, password="a new long passphrase 42", actor=user)
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4000}
    _again, message = await connect(f"/ws/events/?token={old_token}")
    assert message == {"type": "websocket.close", "code": 4401}


async def test_deleting_an_account_closes_its_sockets():
    user = await make_user()
    admin = await make_user(role=User.Role.ADMIN)
    communicator = await welcomed(user)
    await sync_to_async(user_delete)(user=user, actor=admin)
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}


async def test_a_message_from_an_account_suspended_by_any_route_closes_the_socket():
    """Even a change that bypasses the services (a raw UPDATE) is seen on the next message."""
    user = await make_user()
    communicator = await welcomed(user)
    await sync_to_async(User.objects.filter(pk=user.pk).update)(status=User.Status.SUSPENDED)
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}


async def test_a_message_after_a_password_change_by_any_route_closes_the_socket():
    """`manage.py changepassword` saves the model directly and sends no event."""
    user = await make_user()
    communicator = await welcomed(user)
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}

    def change_password() -> None:
        account = User.objects.get(pk=user.pk)
        account.set_password("a new long passphrase 42")
        account.save()

    await sync_to_async(change_password)()
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4000}


async def test_the_places_of_a_crashed_process_are_freed(sockets, settings):
    """A process that dies cannot unregister its sockets; live processes refresh theirs, so
    entries not refreshed for STALE_SECONDS stop counting."""
    settings.EVENTS_SOCKETS_PER_USER = 1
    user = await make_user()
    client: Any = await sync_to_async(redis_client)()
    dead = {"specific.dead!channel": time.time() - registry.STALE_SECONDS - 1}
    await sync_to_async(client.zadd)(registry._user_key("events", user.pk), dead)
    await sync_to_async(client.zadd)(registry._total_key("events"), dead)
    socket = await open_socket(sockets, "/ws/events/", user)
    assert (await socket.receive_json_from(timeout=3))["type"] == "hello"

    # This process's own sockets are kept alive by the refresh, however old they are.
    registered = await sync_to_async(client.zrange)(registry._user_key("events", user.pk), 0, -1, withscores=True)
    ((channel, _),) = registered
    await sync_to_async(client.zadd)(registry._user_key("events", user.pk), {channel: 1.0})
    assert await sync_to_async(registry.refresh_live)() >= 1
    ((_, score),) = await sync_to_async(client.zrange)(registry._user_key("events", user.pk), 0, -1, withscores=True)
    assert score > time.time() - 5
    refused = await open_socket(sockets, "/ws/events/", user)
    assert (await refused.receive_json_from(timeout=3))["code"] == "too_many_connections"
