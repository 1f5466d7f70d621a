"""One admission step (chat.admission) on every transport: a question that is empty, too
long, too long for the model's context window, or over the chat rate limit is refused
before anything streams, with the same code on plain POST, SSE and the WebSocket (which the
chat page uses); nothing is saved and Claude is not asked. A refused question does not
count toward the rate limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.chat.admission import chat_rate_limit
from apps.chat.models import Conversation, Message
from apps.chat.services import conversation_create
from apps.core.errors import RateLimited
from tests.helpers import assert_error
from tests.websockets import open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_connections")]
TIMEOUT = 10


def _too_many_characters(settings: Any, user: Any) -> str:
    settings.CHAT_MAX_QUESTION_CHARS = 10
    return "x" * 11


def _too_long_for_the_window(settings: Any, user: Any) -> str:
    settings.CHAT_CONTEXT_WINDOWS = {"default": settings.CHAT_MAX_OUTPUT_TOKENS + 10}
    return "Why grace?"


def _over_the_rate_limit(settings: Any, user: Any) -> str:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "chat": "1/h"}
    chat_rate_limit(user=user)  # the hour's one question, asked elsewhere
    return "Why grace?"


# (refusal, arrange(settings, user) -> the question to ask, HTTP status, code)
REFUSALS: list[tuple[str, Callable[[Any, Any], str], int, str]] = [
    ("empty", lambda settings, user: "   ", 400, "validation_error"),
    ("too many characters", _too_many_characters, 400, "message_too_long"),
    ("too long for the window", _too_long_for_the_window, 400, "question_too_long"),
    ("over the rate limit", _over_the_rate_limit, 429, "rate_limited"),
]
IDS = [refusal[0] for refusal in REFUSALS]


def ask_url(conversation: Conversation) -> str:
    return f"/api/v1/chat/conversations/{conversation.pk}/messages/"


@pytest.mark.parametrize("accept", ["application/json", "text/event-stream"])
@pytest.mark.parametrize(("name", "arrange", "status", "code"), REFUSALS, ids=IDS)
def test_http_refuses_before_streaming(
    client_for: Any,
    user: Any,
    claude_settings: Any,
    settings: Any,
    accept: str,
    name: str,
    arrange: Callable[[Any, Any], str],
    status: int,
    code: str,
) -> None:
    conversation = conversation_create(owner=user, scope="documents")
    question = arrange(settings, user)
    response = client_for(user).post(ask_url(conversation), {"content": question}, format="json", HTTP_ACCEPT=accept)
    assert response["Content-Type"].startswith("application/json")  # no stream was started
    error = assert_error(response, status, code)
    if code == "rate_limited":
        assert int(response["Retry-After"]) >= 1 and error["details"]["retry_after"] >= 1
    assert not Message.objects.filter(conversation=conversation).exists()
    assert claude_settings.requests == []


@pytest.mark.parametrize(("name", "arrange", "status", "code"), REFUSALS, ids=IDS)
async def test_the_socket_refuses_with_an_error_event(
    sockets: list,
    user: Any,
    claude_settings: Any,
    settings: Any,
    name: str,
    arrange: Callable[[Any, Any], str],
    status: int,
    code: str,
) -> None:
    conversation = await sync_to_async(conversation_create)(owner=user, scope="documents")
    question = await sync_to_async(arrange)(settings, user)
    socket = await open_socket(sockets, f"/ws/chat/{conversation.pk}/", user)
    await socket.send_json_to({"type": "message", "content": question})
    event = await socket.receive_json_from(timeout=TIMEOUT)
    assert event["type"] == "error" and event["code"] == code
    assert (event.get("retry_after", 0) >= 1) is (code == "rate_limited")
    assert await socket.receive_nothing(timeout=0.3)  # the refusal is all: no answer follows
    assert not await sync_to_async(Message.objects.filter(conversation=conversation).exists)()
    assert claude_settings.requests == []


def test_a_refused_question_does_not_count_toward_the_rate_limit(
    client_for: Any, user: Any, claude_settings: Any, settings: Any
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "chat": "1/h"}
    client = client_for(user)
    url = ask_url(conversation_create(owner=user, scope="documents"))
    for _ in range(3):
        assert_error(client.post(url, {"content": "  "}, format="json"), 400, "validation_error")
    assert client.post(url, {"content": "Why grace?"}, format="json").status_code == 201
    assert_error(client.post(url, {"content": "And faith?"}, format="json"), 429, "rate_limited")
    assert len(claude_settings.requests) == 1


def test_the_chat_refusal_names_the_configured_rate(settings: Any, make_user: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "chat": "3/h"}
    user = make_user()
    for _ in range(3):
        chat_rate_limit(user=user)
    with pytest.raises(RateLimited) as refused:
        chat_rate_limit(user=user)
    assert refused.value.message == "You have sent 3 messages this hour; wait a moment."
