"""Digest events on the conversation's socket: `digest.progress` after each map call, then
`digest.done` with the answer's message id (or `digest.failed`), to every socket open on
the conversation, and only to those."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.chat.digest_run import digest_run
from apps.chat.digest_services import digest_start
from apps.chat.models import Digest
from tests.chat import fake_claude as fake
from tests.chat.digests import GRACE, book, conversation_for
from tests.users.factories import UserFactory
from tests.websockets import open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_connections")]
TIMEOUT = 10


@sync_to_async
def setup_digest(question: str = "Summarise this book") -> tuple[Any, Any, Digest]:
    owner = UserFactory()
    grace = book(owner, GRACE, title="Of Grace and Justification")
    conversation = conversation_for(owner, grace)
    digest = digest_start(user=owner, conversation_id=conversation.pk, question=question, document_ids=[grace.pk])
    return owner, conversation, digest


async def following(sockets: list, conversation: Any, user: Any) -> Any:
    """A socket on the conversation that has joined its group: a consumer handles frames in
    order, so once a ping is answered, its connect (which joins the group) is over."""
    socket = await open_socket(sockets, f"/ws/chat/{conversation.pk}/", user)
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "pong"
    return socket


async def events_until_end(socket: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] not in ("digest.done", "digest.failed"):
        events.append(await socket.receive_json_from(timeout=TIMEOUT))  # each checked by tests/events.py
    return events


async def test_progress_then_done_reach_every_socket_of_the_conversation(
    sockets: list, claude_settings: Any, settings: Any
) -> None:
    settings.DIGEST_GROUP_TOKENS = 1000
    owner, conversation, digest = await setup_digest()
    maps = digest.total - 1
    first = await following(sockets, conversation, owner)
    second = await following(sockets, conversation, owner)
    _, other_conversation, _ = await setup_digest()
    elsewhere = await open_socket(
        sockets, f"/ws/chat/{other_conversation.pk}/", await sync_to_async(lambda: other_conversation.owner)()
    )
    claude_settings.respond(
        *[fake.text(f"- note {i} [1]") for i in range(maps)], fake.text("Grace “is the free favour of God” [1].")
    )
    await sync_to_async(digest_run)(digest_id=digest.pk)
    for socket in (first, second):
        events = await events_until_end(socket)
        assert [e["type"] for e in events] == ["digest.progress"] * maps + ["digest.done"]
        assert [(e["done"], e["total"]) for e in events[:-1]] == [(i + 1, maps + 1) for i in range(maps)]
        assert all(e["id"] == str(digest.pk) for e in events)
        stored = await sync_to_async(Digest.objects.get)(pk=digest.pk)
        assert events[-1]["message_id"] == str(stored.message_id)
    assert await elsewhere.receive_nothing(timeout=0.3)


async def test_a_failed_digest_says_so(sockets: list, claude_settings: Any) -> None:
    owner, conversation, digest = await setup_digest()
    socket = await following(sockets, conversation, owner)
    claude_settings.respond(fake.error(400, message="prompt is too long"))
    await sync_to_async(digest_run)(digest_id=digest.pk)
    (event,) = await events_until_end(socket)
    assert event["type"] == "digest.failed" and event["code"] == "provider_error" and event["message"]
