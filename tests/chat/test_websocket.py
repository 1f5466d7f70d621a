"""/ws/chat/<id>/: the answer streams as delta → citations → done; only the owner may
connect; limits on rate, frame size and open sockets; an answer whose client leaves still
finishes and is saved."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from apps.chat.models import Conversation, Message, Persona
from apps.chat.services import conversation_create, conversation_update
from apps.users.models import User
from apps.users.services import user_update
from tests.chat import fake_claude as fake
from tests.index.corpus import add_passages, marker
from tests.users.factories import UserFactory
from tests.websockets import closed_with as socket_closed_with
from tests.websockets import open_socket as open_user_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_connections")]
TIMEOUT = 10


@sync_to_async
def make_user(**fields: Any) -> User:
    return UserFactory(**fields)


@sync_to_async
def make_conversation(owner: User, **fields: Any) -> Conversation:
    add_passages([f"{marker()}: love is patient and kind, it does not envy."], owner=owner, title="Sermon on love")
    return conversation_create(owner=owner, scope=fields.pop("scope", "documents"), **fields)


async def open_socket(sockets: list, conversation: Any, user: User | None) -> WebsocketCommunicator:
    path = f"/ws/chat/{getattr(conversation, 'pk', conversation)}/"
    return await open_user_socket(sockets, path, user, timeout=TIMEOUT)


async def events_until_done(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    events = []
    while True:
        event = await communicator.receive_json_from(timeout=TIMEOUT)
        events.append(event)
        if event["type"] in ("done",) or (event["type"] == "error" and len(events) == 1):
            return events


async def closed_with(communicator: WebsocketCommunicator) -> int:
    return await socket_closed_with(communicator, timeout=TIMEOUT)


async def test_the_answer_streams_as_delta_citations_done(sockets: list, claude_settings: Any) -> None:
    claude_settings.respond(fake.text(["Love ", "“is patient and kind” [1]."]))
    owner = await make_user()
    conversation = await make_conversation(owner)
    socket = await open_socket(sockets, conversation, owner)
    await socket.send_json_to({"type": "message", "content": "What is love?"})
    events = await events_until_done(socket)
    assert [event["type"] for event in events] == ["delta", "delta", "citations", "done"]
    assert "".join(e["text"] for e in events if e["type"] == "delta") == "Love “is patient and kind” [1]."
    (item,) = events[2]["items"]
    assert item["n"] == 1 and item["verified"] is True and item["document_id"]
    done = events[3]
    assert done["degraded"] is False and set(done["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_usd",
    }
    stored = await sync_to_async(Message.objects.get)(pk=done["message_id"])
    assert stored.content == "Love “is patient and kind” [1]." and stored.citations == events[2]["items"]


async def test_only_the_owner_may_connect(sockets: list) -> None:
    owner, other, staff = await make_user(), await make_user(), await make_user(role="admin")
    conversation = await make_conversation(owner)
    for intruder in (other, staff):
        assert await closed_with(await open_socket(sockets, conversation, intruder)) == 4404
    assert await closed_with(await open_socket(sockets, conversation, None)) == 4401
    pending = await make_user(status="pending")
    assert await closed_with(await open_socket(sockets, conversation, pending)) == 4403


async def test_bad_frames_get_error_events(sockets: list, settings: Any) -> None:
    settings.CHAT_MAX_FRAME_BYTES = 100
    owner = await make_user()
    socket = await open_socket(sockets, await make_conversation(owner), owner)
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from(timeout=TIMEOUT))["code"] == "invalid_json"
    await socket.send_json_to({"type": "message", "content": "x" * 200})
    assert (await socket.receive_json_from(timeout=TIMEOUT))["code"] == "message_too_large"
    await socket.send_json_to({"type": "message", "content": "   "})
    assert (await socket.receive_json_from(timeout=TIMEOUT))["code"] == "validation_error"


async def test_rate_limit_is_an_error_event_with_retry_after(sockets: list, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "chat": "1/h"}
    settings.ANTHROPIC_API_KEY = ""
    owner = await make_user()
    socket = await open_socket(sockets, await make_conversation(owner), owner)
    await socket.send_json_to({"type": "message", "content": "first"})
    assert (await events_until_done(socket))[-1]["type"] == "done"
    await socket.send_json_to({"type": "message", "content": "second"})
    error = await socket.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and error["code"] == "rate_limited" and error["retry_after"] >= 1


async def test_at_most_five_sockets_per_user(sockets: list, settings: Any) -> None:
    settings.CHAT_SOCKETS_PER_USER = 2
    owner = await make_user()
    conversation = await make_conversation(owner)
    await open_socket(sockets, conversation, owner)
    await open_socket(sockets, conversation, owner)
    third = await open_socket(sockets, conversation, owner)
    assert (await third.receive_json_from(timeout=TIMEOUT))["code"] == "too_many_connections"
    assert await closed_with(third) == 4008


async def test_a_global_cap_closes_with_try_again_later(sockets: list, settings: Any) -> None:
    owner = await make_user()
    conversation = await make_conversation(owner)
    from apps.core import sockets as registry

    open_now = await sync_to_async(registry.open_count)(route="chat")
    settings.CHAT_SOCKETS_TOTAL = open_now
    socket = await open_socket(sockets, conversation, owner)
    assert (await socket.receive_json_from(timeout=TIMEOUT))["code"] == "too_many_connections"
    assert await closed_with(socket) == 4013


async def test_leaving_mid_answer_still_saves_it(sockets: list, claude_settings: Any) -> None:
    claude_settings.respond(fake.text(["Love ", "is ", "patient ", "[1]."], delay=0.3))
    owner = await make_user()
    conversation = await make_conversation(owner)
    socket = await open_socket(sockets, conversation, owner)
    await socket.send_json_to({"type": "message", "content": "What is love?"})
    first = await socket.receive_json_from(timeout=TIMEOUT)
    assert first["type"] == "delta"
    await socket.disconnect()
    answers = Message.objects.filter(conversation=conversation, role="assistant")
    for _ in range(100):
        if await sync_to_async(answers.exists)():
            break
        await asyncio.sleep(0.1)
    answer = await sync_to_async(answers.get)()
    assert answer.content == "Love is patient [1]." and answer.status == "complete"


async def test_guests_chat_with_the_bible_only(sockets: list, claude_settings: Any) -> None:
    guest = await make_user(role="guest")
    conversation = await sync_to_async(conversation_create)(owner=guest, scope="all")
    assert conversation.scope == "bible"
    socket = await open_socket(sockets, conversation, guest)
    await socket.send_json_to({"type": "message", "content": "love"})
    await events_until_done(socket)
    (sent,) = claude_settings.requests
    sources = json.dumps(sent["body"]["system"])
    assert "Sermon on love" not in sources


async def test_a_binary_frame_gets_an_error_event(sockets: list) -> None:
    owner = await make_user()
    socket = await open_socket(sockets, await make_conversation(owner), owner)
    await socket.send_to(bytes_data=b"\x81\x00")
    assert (await socket.receive_json_from(timeout=TIMEOUT))["code"] == "binary_not_supported"
    await socket.send_json_to(["message"])
    assert (await socket.receive_json_from(timeout=TIMEOUT))["code"] == "unknown_message"


# --- each question is asked with the account's rights as they are now ----------------------


async def test_a_user_demoted_to_guest_on_an_open_socket_is_held_to_the_bible(
    sockets: list, claude_settings: Any
) -> None:
    """The role is changed without the services (which would close the socket): the next
    question must still be asked as a guest."""
    owner = await make_user()
    conversation = await make_conversation(owner)
    socket = await open_socket(sockets, conversation, owner)
    await socket.send_json_to({"type": "message", "content": "What is love?"})
    await events_until_done(socket)
    await sync_to_async(User.objects.filter(pk=owner.pk).update)(role=User.Role.GUEST)
    await socket.send_json_to({"type": "message", "content": "What is love?"})
    await events_until_done(socket)
    as_user, as_guest = (json.dumps(request["body"]["system"]) for request in claude_settings.requests)
    assert "Sermon on love" in as_user
    assert "Sermon on love" not in as_guest


async def test_a_budget_set_to_zero_counts_on_an_open_socket(sockets: list, claude_settings: Any) -> None:
    owner = await make_user()
    socket = await open_socket(sockets, await make_conversation(owner), owner)
    await socket.send_json_to({"type": "message", "content": "What is love?"})
    assert (await events_until_done(socket))[-1]["degraded"] is False
    await sync_to_async(User.objects.filter(pk=owner.pk).update)(monthly_budget_usd=0)
    await socket.send_json_to({"type": "message", "content": "And patience?"})
    done = (await events_until_done(socket))[-1]
    assert done["degraded"] is True and done["degraded_reason"] == "budget_exceeded"
    assert len(claude_settings.requests) == 1  # Claude was not asked the second time


async def test_a_question_from_an_account_suspended_meanwhile_is_not_answered(sockets: list) -> None:
    owner = await make_user()
    conversation = await make_conversation(owner)
    socket = await open_socket(sockets, conversation, owner)
    await sync_to_async(User.objects.filter(pk=owner.pk).update)(status=User.Status.SUSPENDED)
    await socket.send_json_to({"type": "message", "content": "What is love?"})
    assert await closed_with(socket) == 4403
    assert not await sync_to_async(Message.objects.filter(conversation=conversation).exists)()


async def test_a_role_change_closes_chat_sockets_to_reconnect(sockets: list) -> None:
    owner = await make_user()
    admin = await make_user(role=User.Role.ADMIN)
    socket = await open_socket(sockets, await make_conversation(owner), owner)
    await socket.send_json_to({"type": "ping"})  # answered once the socket is fully set up
    assert await socket.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
    await sync_to_async(user_update)(user=owner, actor=admin, role=User.Role.GUEST)
    assert await closed_with(socket) == 4000


async def test_a_conversation_deleted_meanwhile_closes_the_socket(sockets: list) -> None:
    owner = await make_user()
    conversation = await make_conversation(owner)
    socket = await open_socket(sockets, conversation, owner)
    await sync_to_async(Conversation.objects.filter(pk=conversation.pk).delete)()
    await socket.send_json_to({"type": "message", "content": "Still there?"})
    assert await closed_with(socket) == 4404


# --- each question is asked in the conversation as it is now ------------------------------


@sync_to_async
def change_conversation(conversation: Conversation, actor: User, **changes: Any) -> Persona:
    """Through the service, as the API's PATCH does; returns the persona it now has."""
    persona = Persona.objects.filter(is_active=True).order_by("sort_order").first()
    assert persona is not None
    fresh = Conversation.objects.get(pk=conversation.pk)
    conversation_update(conversation=fresh, actor=actor, persona=persona, **changes)
    return persona


async def test_a_persona_and_scope_changed_on_an_open_socket_count_for_the_next_question(
    sockets: list, claude_settings: Any
) -> None:
    owner = await make_user()
    conversation = await make_conversation(owner)  # documents: finds "Sermon on love"
    socket = await open_socket(sockets, conversation, owner)
    await socket.send_json_to({"type": "message", "content": "What is love?"})
    await events_until_done(socket)
    persona = await change_conversation(conversation, owner, scope="bible")
    await socket.send_json_to({"type": "message", "content": "What is love?"})
    assert (await events_until_done(socket))[-1]["type"] == "done"
    before, after = (request["body"]["system"] for request in claude_settings.requests)
    assert "Sermon on love" in json.dumps(before) and "Sermon on love" not in json.dumps(after)
    assert before[0]["text"] != persona.system_prompt and after[0]["text"] == persona.system_prompt


async def test_a_rename_while_the_first_answer_streams_is_kept(sockets: list, claude_settings: Any) -> None:
    """The first question names an untitled conversation on its row as it is when the
    question is saved; a name (or persona) the reader gives it meanwhile is not undone."""
    claude_settings.respond(fake.text(["Love ", "is ", "patient ", "[1]."], delay=0.3))
    owner = await make_user()
    conversation = await make_conversation(owner)
    socket = await open_socket(sockets, conversation, owner)
    await socket.send_json_to({"type": "message", "content": "What is love?"})
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "delta"
    assert (await sync_to_async(Conversation.objects.get)(pk=conversation.pk)).title == "What is love?"
    persona = await change_conversation(conversation, owner, title="Love, my notes")
    assert (await events_until_done(socket))[-1]["type"] == "done"
    stored = await sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert (stored.title, stored.persona_id) == ("Love, my notes", persona.pk)
    claude_settings.respond(fake.text("Patience [1]."))
    await socket.send_json_to({"type": "message", "content": "And patience?"})
    await events_until_done(socket)
    assert (await sync_to_async(Conversation.objects.get)(pk=conversation.pk)).title == "Love, my notes"
