"""WebSockets and SSE through a real daphne over TCP, with real clients: sign-in refusals,
frames that are not JSON, the per-user cap, chat answers from the fake Claude over the
wire, the document room, and sockets and streams that end when the account's rights do."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from apps.chat.services import conversation_create
from apps.core import sockets as registry
from apps.documents import services as documents
from apps.users.models import User
from apps.users.services import user_suspend, user_update
from tests.chat import fake_claude as fake
from tests.documents.factories import DocumentFactory
from tests.index.corpus import add_passages, marker
from tests.integration.conftest import LIVE_EVENTS_SOCKETS_PER_USER, LIVE_PROGRESS_STALL_SECONDS, LiveServer
from tests.integration.live import SSE, LiveSocket, Refused, http_error
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _personas(db: Any) -> None:
    """Transactional tests empty the tables the seeding migration filled: seed again."""
    from apps.chat.models import Persona
    from apps.chat.personas import seed_default_personas

    seed_default_personas(Persona)


def token(user: User) -> str:
    return str(AccessToken.for_user(user))


@sync_to_async
def make_user(**fields: Any) -> User:
    return UserFactory(**fields)


@sync_to_async
def make_document(owner: User, **fields: Any) -> Any:
    return DocumentFactory(owner=owner, content=None, **fields)


@sync_to_async
def share(document: Any, user: User) -> None:
    documents.document_share(document=document, actor=document.owner, email=user.email, permission="view")


@sync_to_async
def make_conversation(owner: User) -> Any:
    add_passages([f"{marker()}: love is patient and kind, it does not envy."], owner=owner, title="Sermon on love")
    return conversation_create(owner=owner, scope="documents")


async def connect(server: LiveServer, path: str, user: User | None = None, **kwargs: Any) -> LiveSocket:
    query = f"?token={token(user)}" if user is not None else ""
    return await LiveSocket.open(f"{server.ws_url}{path}{query}", origin=server.origin, **kwargs)


async def events_socket(server: LiveServer, user: User) -> LiveSocket:
    socket = await connect(server, "/ws/events/", user)
    assert (await socket.receive_json())["type"] == "hello"
    return socket


async def settled(socket: LiveSocket) -> None:
    """Answered only once the server has finished setting the socket up."""
    await socket.send_json({"type": "ping"})
    assert await socket.next_of("pong") == {"type": "pong"}


# --- sign-in ------------------------------------------------------------------------------------


async def test_sockets_refuse_who_may_not_connect(daphne_server: LiveServer) -> None:
    owner = await make_user()
    document = await make_document(owner)
    for path in ("/ws/events/", f"/ws/documents/{document.pk}/"):
        assert await (await connect(daphne_server, path)).closed_with() == 4401
        bad = await LiveSocket.open(f"{daphne_server.ws_url}{path}?token=forged", origin=daphne_server.origin)
        assert await bad.closed_with() == 4401
        assert await (await connect(daphne_server, path, await make_user(status="pending"))).closed_with() == 4403
    stranger = await make_user()
    assert await (await connect(daphne_server, f"/ws/documents/{document.pk}/", stranger)).closed_with() == 4404
    with pytest.raises(Refused):
        await LiveSocket.open(f"{daphne_server.ws_url}/ws/events/?token={token(owner)}", origin="https://evil.example")


async def test_a_signed_in_pages_session_cookie_opens_a_socket(daphne_server: LiveServer) -> None:
    from django.conf import settings
    from django.test import Client

    user = await make_user()
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    socket = await LiveSocket.open(
        f"{daphne_server.ws_url}/ws/events/", origin=daphne_server.origin, headers={"Cookie": cookie}
    )
    assert (await socket.receive_json())["user"]["id"] == str(user.pk)
    await socket.close()


# --- frames ---------------------------------------------------------------------------------------


async def test_binary_and_non_json_frames_get_error_events_on_every_socket(daphne_server: LiveServer) -> None:
    owner = await make_user()
    document = await make_document(owner)
    conversation = await make_conversation(owner)
    for path in ("/ws/events/", f"/ws/documents/{document.pk}/", f"/ws/chat/{conversation.pk}/"):
        socket = await connect(daphne_server, path, owner)
        await socket.send_bytes(b"\x00\x01\x02")
        assert (await socket.next_of("error"))["code"] == "binary_not_supported", path
        await socket.send_text("not json")
        assert (await socket.next_of("error"))["code"] == "invalid_json", path
        await socket.send_text("[1, 2, 3]")
        assert (await socket.next_of("error"))["code"] == "unknown_message", path
        await settled(socket)  # still open, still answering
        await socket.close()
        assert socket.close_code == 1000, path


# --- caps ---------------------------------------------------------------------------------------------


async def wait_for_open_count(route: str, expected: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while await sync_to_async(registry.open_count)(route=route) != expected:
        assert time.monotonic() < deadline, f"{route}: still not {expected} open sockets"
        await asyncio.sleep(0.1)


async def test_events_sockets_are_capped_per_user(daphne_server: LiveServer) -> None:
    user = await make_user()
    before = await sync_to_async(registry.open_count)(route="events")
    opened = [await events_socket(daphne_server, user) for _ in range(LIVE_EVENTS_SOCKETS_PER_USER)]
    refused = await connect(daphne_server, "/ws/events/", user)
    assert (await refused.receive_json())["code"] == "too_many_connections"
    assert await refused.closed_with() == 4008
    await opened[0].close()
    await wait_for_open_count("events", before + LIVE_EVENTS_SOCKETS_PER_USER - 1)
    await events_socket(daphne_server, user)  # the place it left is free again
    for socket in opened[1:]:
        await socket.close()


# --- chat over the wire ---------------------------------------------------------------------------------


async def test_a_chat_answer_streams_from_the_fake_claude_through_daphne(
    daphne_server: LiveServer, live_claude: Any
) -> None:
    live_claude.respond(fake.text(["Love ", "“is patient and kind” [1]."]))
    owner = await make_user()
    conversation = await make_conversation(owner)
    socket = await connect(daphne_server, f"/ws/chat/{conversation.pk}/", owner)
    await socket.send_json({"type": "message", "content": "What is love?"})
    events = [await socket.receive_json(timeout=60)]  # the server loads the embedding model once
    while events[-1]["type"] != "done":
        events.append(await socket.receive_json())
    kinds = [event["type"] for event in events]
    assert kinds[-2:] == ["citations", "done"] and set(kinds[:-2]) == {"delta"}
    assert "".join(event["text"] for event in events if event["type"] == "delta") == "Love “is patient and kind” [1]."
    assert events[-1]["degraded"] is False
    assert await (await connect(daphne_server, f"/ws/chat/{conversation.pk}/", await make_user())).closed_with() == 4404
    await socket.close()


def test_the_chat_sse_stream_over_http(daphne_server: LiveServer, live_claude: Any) -> None:
    live_claude.respond(fake.text(["Patience ", "[1]."]))
    owner = UserFactory()
    conversation = make_conversation.func(owner)  # type: ignore[attr-defined]
    url = f"{daphne_server.url}/api/v1/chat/conversations/{conversation.pk}/messages/"
    stream = SSE.open(url, token=token(owner), data={"content": "What is patience?"}, timeout=60)
    try:
        frames = stream.until("done")
    finally:
        stream.close()
    assert "".join(data["text"] for name, data in frames if name == "delta") == "Patience [1]."
    assert [name for name, _ in frames][-2:] == ["citations", "done"]
    status, body = http_error(url, token=None)
    assert status == 401 and body["error"]["code"] == "not_authenticated"


# --- the document room and the progress stream ------------------------------------------------------------


async def test_the_room_over_daphne_and_unsharing_closes_the_sharee(daphne_server: LiveServer) -> None:
    owner = await make_user()
    reader = await make_user()
    document = await make_document(owner)
    await share(document, reader)
    owner_socket = await connect(daphne_server, f"/ws/documents/{document.pk}/", owner)
    assert (await owner_socket.receive_json())["type"] == "presence"
    reader_socket = await connect(daphne_server, f"/ws/documents/{document.pk}/", reader)
    welcome = await reader_socket.receive_json()
    assert welcome["type"] == "presence" and welcome["count"] == 2
    assert (await owner_socket.next_of("user.joined"))["user"]["id"] == str(reader.pk)

    await sync_to_async(documents.document_unshare)(document=document, actor=owner, email=reader.email)

    assert await reader_socket.closed_with() == 4404
    assert (await owner_socket.next_of("user.left"))["user"]["id"] == str(reader.pk)
    await owner_socket.close()


def test_the_progress_stream_ends_when_the_share_is_removed(daphne_server: LiveServer) -> None:
    owner, reader = UserFactory(), UserFactory()
    document = DocumentFactory(owner=owner, content=None, status="processing", stage="embed", progress=30)
    share.func(document, reader)  # type: ignore[attr-defined]
    url = f"{daphne_server.url}/api/v1/documents/{document.pk}/progress/"
    stream = SSE.open(url, token=token(reader))
    try:
        assert stream.next()[0] == "progress"
        documents.document_unshare(document=document, actor=owner, email=reader.email)
        name, data = stream.next()
        assert (name, data["reason"]) == ("ended", "access_revoked")
        assert stream.ended()
    finally:
        stream.close()
    assert http_error(url, token=token(reader))[0] == 404
    assert http_error(url)[0] == 401


def test_the_progress_stream_of_a_document_that_does_not_move_ends(daphne_server: LiveServer) -> None:
    owner = UserFactory()
    document = DocumentFactory(owner=owner, content=None, status="processing", stage="embed", progress=30)
    started = time.monotonic()
    stream = SSE.open(f"{daphne_server.url}/api/v1/documents/{document.pk}/progress/", token=token(owner))
    try:
        frames = stream.until("ended")
        assert frames[-1][1]["reason"] == "stalled"
        assert LIVE_PROGRESS_STALL_SECONDS - 0.5 <= time.monotonic() - started < LIVE_PROGRESS_STALL_SECONDS + 10
        assert stream.ended()
    finally:
        stream.close()


# --- an account whose rights change -----------------------------------------------------------------------


async def test_suspension_closes_every_socket_and_stream_of_the_account(daphne_server: LiveServer) -> None:
    user = await make_user()
    admin = await make_user(role=User.Role.ADMIN)
    document = await make_document(user, status="processing", stage="embed", progress=30)
    conversation = await make_conversation(user)
    opened = [
        await events_socket(daphne_server, user),
        await connect(daphne_server, f"/ws/documents/{document.pk}/", user),
        await connect(daphne_server, f"/ws/chat/{conversation.pk}/", user),
    ]
    for socket in opened:
        await settled(socket)
    stream = await sync_to_async(SSE.open)(
        f"{daphne_server.url}/api/v1/documents/{document.pk}/progress/", token=token(user)
    )
    assert (await sync_to_async(stream.next)())[0] == "progress"

    await sync_to_async(user_suspend)(user=user, actor=admin, reason="Spam")

    assert [await socket.closed_with() for socket in opened] == [4403, 4403, 4403]
    name, data = await sync_to_async(stream.next)()
    assert (name, data["reason"]) == ("ended", "account_inactive")
    stream.close()


async def test_a_demoted_account_reconnects_with_its_new_role(daphne_server: LiveServer) -> None:
    user = await make_user(role=User.Role.POWER)
    admin = await make_user(role=User.Role.ADMIN)
    socket = await events_socket(daphne_server, user)

    await sync_to_async(user_update)(user=user, actor=admin, role=User.Role.GUEST)

    assert await socket.closed_with() == 4000
    again = await connect(daphne_server, "/ws/events/", user)
    assert (await again.receive_json())["user"]["role"] == "guest"
    await again.close()


async def test_a_message_after_a_suspension_that_bypassed_the_services_closes_the_socket(
    daphne_server: LiveServer,
) -> None:
    user = await make_user()
    socket = await events_socket(daphne_server, user)
    await sync_to_async(User.objects.filter(pk=user.pk).update)(status=User.Status.SUSPENDED)
    await socket.send_json({"type": "ping"})
    assert await socket.closed_with() == 4403
