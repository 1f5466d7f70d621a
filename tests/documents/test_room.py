"""The document room, /ws/documents/<id>/: presence, live progress, notes, and who may be there."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from apps.documents import pipeline, presence, services
from apps.documents.models import Document, DocumentAccess
from apps.documents.realtime import PresenceUser
from apps.users.models import User
from tests.documents import files
from tests.documents.factories import DocumentFactory
from tests.helpers import bearer
from tests.users.factories import UserFactory
from tests.websockets import TIMEOUT, closed_with
from tests.websockets import open_socket as open_user_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_connections")]

CLOSE_NOT_FOUND = 4404


# --- helpers ------------------------------------------------------------------------------


@sync_to_async
def make_user(**fields: Any) -> User:
    return UserFactory(**fields)


@sync_to_async
def make_document(owner: User, *, data: bytes | None = None, **fields: Any) -> Document:
    """A document row (with its file when `data` is given), without the pipeline."""
    return DocumentFactory(owner=owner, content=data, **fields)


@sync_to_async
def share(document: Document, user: User, permission: str = "view") -> None:
    services.document_share(document=document, actor=document.owner, email=user.email, permission=permission)


@sync_to_async
def api(user: User, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
    client = APIClient()
    client.credentials(**bearer(user))
    return getattr(client, method)(path, data or {}, format="json")


def person(user: User) -> dict[str, str]:
    return {"id": str(user.pk), "display_name": user.display_name}


async def open_socket(sockets: list[WebsocketCommunicator], document: Any, user: User | None) -> WebsocketCommunicator:
    return await open_user_socket(sockets, f"/ws/documents/{getattr(document, 'pk', document)}/", user)


async def enter(sockets: list[WebsocketCommunicator], document: Document, user: User) -> WebsocketCommunicator:
    """Join the room and read the welcome: presence, then the current progress."""
    communicator = await open_socket(sockets, document, user)
    presence = await communicator.receive_json_from(timeout=TIMEOUT)
    assert presence["type"] == "presence", presence
    current = await communicator.receive_json_from(timeout=TIMEOUT)
    assert current["type"] == "progress", current
    return communicator


async def next_of(communicator: WebsocketCommunicator, kind: str, limit: int = 50) -> dict[str, Any]:
    """The next event of type `kind`, skipping others (e.g. one's own user.joined)."""
    for _ in range(limit):
        event = await communicator.receive_json_from(timeout=TIMEOUT)
        if event["type"] == kind:
            return event
    raise AssertionError(f"no {kind} event")


async def events_until_quiet(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    events = []
    while not await communicator.receive_nothing(timeout=0.3):
        events.append(await communicator.receive_json_from(timeout=TIMEOUT))
    return events


# --- welcome and presence -----------------------------------------------------------------


async def test_a_reader_gets_who_is_here_then_the_current_progress(sockets):
    owner = await make_user(display_name="Augustine")
    document = await make_document(owner, status="processing", stage="embed", progress=40, progress_message="Embedding")

    communicator = await open_socket(sockets, document, owner)

    presence = await communicator.receive_json_from(timeout=TIMEOUT)
    assert presence == {"type": "presence", "document_id": str(document.pk), "users": [person(owner)], "count": 1}
    current = await communicator.receive_json_from(timeout=TIMEOUT)
    assert current["type"] == "progress"
    assert current["document_id"] == str(document.pk)
    assert (current["status"], current["stage"], current["progress"]) == ("processing", "embed", 40)
    assert current["message"] == "Embedding"

    await communicator.send_json_to({"type": "ping"})
    assert await next_of(communicator, "pong") == {"type": "pong"}


async def test_a_second_reader_is_announced_and_sees_everyone(sockets):
    owner = await make_user(display_name="Anselm")
    reader = await make_user(display_name="Boethius")
    document = await make_document(owner)
    await share(document, reader)
    first = await enter(sockets, document, owner)
    await events_until_quiet(first)

    second = await open_socket(sockets, document, reader)

    presence = await second.receive_json_from(timeout=TIMEOUT)
    assert presence["type"] == "presence"
    assert presence["users"] == [person(owner), person(reader)]  # sorted by name
    joined = await next_of(first, "user.joined")
    assert joined == {"type": "user.joined", "user": person(reader)}


async def test_leaving_is_announced(sockets):
    owner = await make_user()
    reader = await make_user()
    document = await make_document(owner)
    await share(document, reader)
    first = await enter(sockets, document, owner)
    second = await enter(sockets, document, reader)
    await next_of(first, "user.joined")

    await second.disconnect()

    assert await next_of(first, "user.left") == {"type": "user.left", "user": person(reader)}
    probe = await open_socket(sockets, document, owner)
    presence = await probe.receive_json_from(timeout=TIMEOUT)
    assert presence["users"] == [person(owner)]  # the one who left is no longer listed


async def test_the_same_reader_in_two_tabs_leaves_only_when_both_close(sockets):
    owner = await make_user()
    reader = await make_user()
    document = await make_document(owner)
    await share(document, reader)
    watcher = await enter(sockets, document, owner)
    await events_until_quiet(watcher)

    tab1 = await enter(sockets, document, reader)
    assert await next_of(watcher, "user.joined") == {"type": "user.joined", "user": person(reader)}
    tab2 = await open_socket(sockets, document, reader)
    presence = await tab2.receive_json_from(timeout=TIMEOUT)
    assert presence["users"] == sorted([person(owner), person(reader)], key=lambda u: u["display_name"].lower())
    assert not [e for e in await events_until_quiet(watcher) if e["type"] == "user.joined"]  # not twice

    await tab1.disconnect()
    assert not [e for e in await events_until_quiet(watcher) if e["type"] == "user.left"]

    await tab2.disconnect()
    assert await next_of(watcher, "user.left") == {"type": "user.left", "user": person(reader)}


# --- notes and progress reach the room ---------------------------------------------------------


async def test_a_note_posted_through_the_api_reaches_the_room(sockets):
    owner = await make_user()
    reader = await make_user()
    document = await make_document(owner, status="completed", stage="done", progress=100, page_count=12)
    await share(document, reader)
    owner_socket = await enter(sockets, document, owner)
    reader_socket = await enter(sockets, document, reader)

    response = await api(
        owner,
        "post",
        f"/api/v1/documents/{document.pk}/notes/",
        {"body": "Compare the golden chain", "page": 3, "verse_reference": "Rom 8:29-30"},
    )
    assert response.status_code == 201, response.content

    for communicator in (owner_socket, reader_socket):
        event = await next_of(communicator, "note.created")
        note = event["note"]
        assert note["id"] == response.json()["id"]
        assert note["body"] == "Compare the golden chain"
        assert note["page"] == 3
        assert note["verse_reference"] == "Romans 8:29-30"
        assert note["document_id"] == str(document.pk)
        assert note["author"] == person(owner)


async def test_a_note_written_by_an_editor_reaches_the_owner(sockets):
    owner = await make_user()
    editor = await make_user()
    document = await make_document(owner)
    await share(document, editor, "edit")
    owner_socket = await enter(sockets, document, owner)

    await sync_to_async(services.note_create)(document=document, author=editor, body="See Calvin here.")

    event = await next_of(owner_socket, "note.created")
    assert event["note"]["body"] == "See Calvin here."
    assert event["note"]["author"] == person(editor)


async def test_pipeline_progress_reaches_the_room(sockets, settings):
    settings.CHUNK_WORDS = 60
    settings.CHUNK_OVERLAP_WORDS = 10
    owner = await make_user()
    document = await make_document(owner, data=files.text_bytes(3))
    communicator = await enter(sockets, document, owner)

    await sync_to_async(pipeline.run, thread_sensitive=False)(document_id=str(document.pk))

    events: list[dict[str, Any]] = []
    while not events or events[-1]["status"] != "completed":
        events.append(await next_of(communicator, "progress"))
    stages = [event["stage"] for event in events]
    assert {"extract", "chunk", "embed", "index", "references", "themes", "done"} <= set(stages)
    assert events[-1]["progress"] == 100
    assert events[-1]["message"].startswith("Ready:")


async def test_reprocessing_is_announced_to_the_room(sockets):
    owner = await make_user()
    document = await make_document(owner, status="failed", stage="extract", failure_reason="Damaged.")
    communicator = await enter(sockets, document, owner)

    response = await api(owner, "post", f"/api/v1/documents/{document.pk}/reprocess/")
    assert response.status_code == 202

    event = await next_of(communicator, "progress")
    assert (event["status"], event["stage"], event["progress"], event["failure_reason"]) == ("queued", "queued", 0, "")


# --- who may be in the room ----------------------------------------------------------------------


async def test_a_user_the_document_is_not_shared_with_is_closed_with_4404(sockets):
    owner = await make_user()
    stranger = await make_user()
    document = await make_document(owner)

    communicator = await open_socket(sockets, document, stranger)

    assert await communicator.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


async def test_an_unknown_document_is_closed_with_4404(sockets):
    user = await make_user()

    communicator = await open_socket(sockets, uuid.uuid4(), user)

    assert await communicator.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


async def test_anonymous_is_closed_with_4401(sockets):
    owner = await make_user()
    document = await make_document(owner)

    communicator = await open_socket(sockets, document, None)

    assert await communicator.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4401}


async def test_a_pending_account_is_closed_with_4403_even_for_its_own_document(sockets):
    owner = await make_user()
    document = await make_document(owner)
    await sync_to_async(User.objects.filter(pk=owner.pk).update)(status=User.Status.PENDING)
    owner.status = User.Status.PENDING

    communicator = await open_socket(sockets, document, owner)

    assert await communicator.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4403}


async def test_staff_cannot_enter_someone_elses_room(sockets):
    owner = await make_user()
    admin = await make_user(role=User.Role.ADMIN)
    document = await make_document(owner)

    communicator = await open_socket(sockets, document, admin)

    assert await communicator.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


async def test_unsharing_closes_the_sharees_socket_with_4404(sockets):
    owner = await make_user()
    reader = await make_user()
    bystander = await make_user()
    document = await make_document(owner)
    await share(document, reader)
    await share(document, bystander)
    owner_socket = await enter(sockets, document, owner)
    reader_socket = await enter(sockets, document, reader)
    bystander_socket = await enter(sockets, document, bystander)

    response = await api(owner, "delete", f"/api/v1/documents/{document.pk}/shares/", {"email": reader.email})
    assert response.status_code == 204, response.content

    assert await closed_with(reader_socket) == CLOSE_NOT_FOUND
    await reader_socket.disconnect(code=CLOSE_NOT_FOUND)  # the server completes the closing handshake
    assert await next_of(owner_socket, "user.left") == {"type": "user.left", "user": person(reader)}
    await bystander_socket.send_json_to({"type": "ping"})
    assert await next_of(bystander_socket, "pong") == {"type": "pong"}  # the others stay
    again = await open_socket(sockets, document, reader)
    assert await again.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


async def test_deleting_the_document_tells_the_room_and_closes_it(sockets):
    owner = await make_user()
    reader = await make_user()
    document = await make_document(owner)
    await share(document, reader)
    owner_socket = await enter(sockets, document, owner)
    reader_socket = await enter(sockets, document, reader)

    response = await api(owner, "delete", f"/api/v1/documents/{document.pk}/")
    assert response.status_code == 204, response.content

    for communicator in (owner_socket, reader_socket):
        assert await next_of(communicator, "deleted") == {"type": "deleted", "document_id": str(document.pk)}
        assert await communicator.receive_output(timeout=TIMEOUT) == {
            "type": "websocket.close",
            "code": CLOSE_NOT_FOUND,
        }


# --- access is checked again for every event and message ---------------------------------------


@sync_to_async
def note_by(document: Document, author: User, body: str) -> None:
    services.note_create(document=document, author=author, body=body)


async def test_a_share_removed_by_any_route_stops_the_rooms_events_at_once(sockets):
    """The admin (or a cascade) deletes the share row without the service's broadcast: the
    next event the room sends is not delivered to the former sharee, who is closed."""
    owner = await make_user()
    reader = await make_user()
    document = await make_document(owner)
    await share(document, reader)
    owner_socket = await enter(sockets, document, owner)
    reader_socket = await enter(sockets, document, reader)
    assert await next_of(owner_socket, "user.joined") == {"type": "user.joined", "user": person(reader)}

    await sync_to_async(DocumentAccess.objects.filter(document=document, user=reader).delete)()
    await note_by(document, owner, "For the owner's eyes now.")

    assert (await next_of(owner_socket, "note.created"))["note"]["body"] == "For the owner's eyes now."
    assert await closed_with(reader_socket) == CLOSE_NOT_FOUND  # and no note.created before it


async def test_a_ping_from_a_former_sharee_closes_the_socket(sockets):
    owner = await make_user()
    reader = await make_user()
    document = await make_document(owner)
    await share(document, reader)
    reader_socket = await enter(sockets, document, reader)
    await sync_to_async(DocumentAccess.objects.filter(document=document, user=reader).delete)()
    await reader_socket.send_json_to({"type": "ping"})
    assert await reader_socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


async def test_a_reader_suspended_by_any_route_hears_nothing_more(sockets):
    owner = await make_user()
    reader = await make_user()
    document = await make_document(owner)
    await share(document, reader)
    reader_socket = await enter(sockets, document, reader)
    await sync_to_async(User.objects.filter(pk=reader.pk).update)(status=User.Status.SUSPENDED)
    await note_by(document, owner, "Not for a suspended account.")
    assert await reader_socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4403}


# --- frames and caps ------------------------------------------------------------------------------


async def test_a_binary_frame_gets_an_error_event(sockets):
    owner = await make_user()
    communicator = await enter(sockets, await make_document(owner), owner)
    await communicator.send_to(bytes_data=b"\xff\xfe")
    assert (await next_of(communicator, "error"))["code"] == "binary_not_supported"
    await communicator.send_to(text_data="{not json")
    assert (await next_of(communicator, "error"))["code"] == "invalid_json"
    await communicator.send_json_to({"type": "ping"})
    assert await next_of(communicator, "pong") == {"type": "pong"}


async def test_room_sockets_are_capped_per_user_across_rooms(sockets, settings):
    settings.ROOM_SOCKETS_PER_USER = 2
    owner = await make_user()
    first, second, third = [await make_document(owner) for _ in range(3)]
    await enter(sockets, first, owner)
    await enter(sockets, second, owner)
    refused = await open_socket(sockets, third, owner)
    assert (await refused.receive_json_from(timeout=TIMEOUT))["code"] == "too_many_connections"
    assert await closed_with(refused) == 4008


async def test_room_sockets_have_a_cap_across_processes(sockets, settings):
    from apps.core import sockets as registry

    owner = await make_user()
    document = await make_document(owner)
    settings.ROOM_SOCKETS_TOTAL = await sync_to_async(registry.open_count)(route="documents")
    refused = await open_socket(sockets, document, owner)
    assert (await refused.receive_json_from(timeout=TIMEOUT))["code"] == "too_many_connections"
    assert await closed_with(refused) == 4013


# --- presence: bounded work per join, however full the room --------------------------------------


async def test_a_full_room_sends_a_bounded_list_and_the_count(sockets, monkeypatch):
    monkeypatch.setattr(presence, "LIST_MAX", 2)
    owner = await make_user(display_name="Owner")
    document = await make_document(owner)
    readers = [await make_user(display_name=f"Reader {n}") for n in range(3)]
    for reader in readers:
        await share(document, reader)
    await enter(sockets, document, owner)
    await enter(sockets, document, readers[0])
    await enter(sockets, document, readers[1])
    last = await open_socket(sockets, document, readers[2])
    welcome = await last.receive_json_from(timeout=TIMEOUT)
    assert welcome["count"] == 4
    assert welcome["users"] == [person(owner), person(readers[0])]  # the first arrivals, by name


def test_presence_counts_connections_not_calls():
    document_id = uuid.uuid4()
    me: PresenceUser = {"id": "u1", "display_name": "Me"}
    other: PresenceUser = {"id": "u2", "display_name": "Other"}
    assert presence.join(document_id, "tab-1", me) == ([me], 1, True)
    assert presence.join(document_id, "tab-1", me) == ([me], 1, False)  # the same connection again
    assert presence.join(document_id, "tab-2", me) == ([me], 1, False)
    assert presence.join(document_id, "other-1", other) == ([me, other], 2, True)
    assert presence.leave(document_id, "tab-1", "u1") is False
    assert presence.leave(document_id, "tab-1", "u1") is False  # a second leave of one tab counts once
    assert presence.leave(document_id, "tab-2", "u1") is True
    assert presence.join(document_id, "other-2", other) == ([other], 1, False)
