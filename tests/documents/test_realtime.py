"""The events of documents, typed once (apps/documents/realtime.py): each constructor
builds an event of its type, and what the services put on a document's group (through the
real Redis channel layer) is a well-formed group message: deleted, access.revoked,
note.created with the API's note object, progress."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from apps.documents import pipeline, realtime, services
from apps.documents.models import Document
from apps.users.models import User
from tests.documents.factories import DocumentFactory
from tests.events import assert_event
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_connections")]

FRAME_TIMEOUT = 5


def test_each_constructor_builds_an_event_of_its_type() -> None:
    document_id, user_id = uuid.uuid4(), uuid.uuid4()
    me: realtime.PresenceUser = {"id": str(user_id), "display_name": "Ann"}
    entry = {"stage": "extract", "message": "Extracted 2 page(s)", "at": "2026-01-01T00:00:00+00:00"}
    built = [
        (realtime.stage(document_id, entry), realtime.StageEvent),
        (realtime.ended(document_id, reason="stalled", message="No progress."), realtime.EndedEvent),
        (realtime.deleted(document_id), realtime.DeletedEvent),
        (realtime.access_revoked(user_id), realtime.AccessRevokedEvent),
        (realtime.presence_list(document_id, users=[me], count=1), realtime.PresenceListEvent),
        (realtime.user_joined(me), realtime.PresenceEvent),
        (realtime.user_left(me), realtime.PresenceEvent),
        (realtime.group_message(realtime.deleted(document_id)), realtime.GroupMessage),
    ]
    for event, kind in built:
        assert_event(event, kind)
    assert realtime.stage(document_id, entry) == {"type": "stage", "document_id": str(document_id), **entry}
    assert realtime.user_left(me) == {"type": "user.left", "user": me}


@sync_to_async
def make_document() -> tuple[Document, User]:
    document = DocumentFactory(owner=UserFactory())
    reader = UserFactory()
    services.document_share(document=document, actor=document.owner, email=reader.email, permission="view")
    return document, reader


async def group_messages(document: Document, write: Any) -> list[dict[str, Any]]:
    """The messages on the document's group while `write` (sync, committing) runs."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(realtime.document_group(document.pk), channel)
    try:
        await sync_to_async(write)()
        messages = [await _receive(layer, channel)]
        while True:
            try:
                messages.append(await _receive(layer, channel, timeout=0.3))
            except TimeoutError:
                return messages
    finally:
        await layer.group_discard(realtime.document_group(document.pk), channel)


async def _receive(layer: Any, channel: str, timeout: float = FRAME_TIMEOUT) -> dict[str, Any]:
    return await asyncio.wait_for(layer.receive(channel), timeout=timeout)


async def test_unsharing_sends_a_typed_access_revoked() -> None:
    document, reader = await make_document()
    messages = await group_messages(
        document, lambda: services.document_unshare(document=document, actor=document.owner, email=reader.email)
    )
    events = [assert_event(message, realtime.GroupMessage)["event"] for message in messages]
    assert {"type": "access.revoked", "user_id": str(reader.pk)} in events


async def test_a_note_is_broadcast_as_the_apis_note_object() -> None:
    document, _reader = await make_document()
    messages = await group_messages(
        document, lambda: services.note_create(document=document, author=document.owner, body="Grace.", page=None)
    )
    (message,) = messages
    assert_event(message, realtime.GroupMessage)
    assert_event(message["event"], realtime.NoteEvent)
    assert message["event"]["note"]["body"] == "Grace."


async def test_deleting_sends_a_typed_deleted() -> None:
    document, _reader = await make_document()
    document_id = document.pk
    messages = await group_messages(document, lambda: services.document_delete(document=document, actor=document.owner))
    events = [assert_event(message, realtime.GroupMessage)["event"] for message in messages]
    assert events == [assert_event({"type": "deleted", "document_id": str(document_id)}, realtime.DeletedEvent)]


async def test_progress_on_the_group_is_a_typed_progress_event() -> None:
    document, _reader = await make_document()
    messages = await group_messages(
        document, lambda: pipeline.report(document, stage="extract", progress=10, message="Reading")
    )
    events = [assert_event(message, realtime.GroupMessage)["event"] for message in messages]
    assert [event["type"] for event in events] == ["progress"]
    assert_event(events[0], realtime.ProgressEvent)
