"""The answer pipeline over HTTP: plain POST (JSON) and SSE, against the fake Claude."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from apps.chat.models import AIUsage, Message
from tests.chat import fake_claude as fake
from tests.chat.requests import ask_url, start_conversation
from tests.events import assert_event
from tests.helpers import assert_error
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def library(user: Any) -> str:
    word = marker()
    add_passages([f"The {word} tradition teaches that grace precedes every good will."], owner=user, title="Institutes")
    return word


def test_plain_post_returns_the_cited_answer(client_for: Any, user: Any, library: str, claude_settings: Any) -> None:
    claude_settings.respond(
        fake.text(
            ["Grace comes first: ", "“grace precedes every good will” [1]."],
            usage=fake.Usage(input_tokens=900, output_tokens=20, cache_read_input_tokens=800),
        )
    )
    client = client_for(user)
    conversation_id = start_conversation(client)
    response = client.post(ask_url(conversation_id), {"content": f"What does {library} teach?"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content"] == "Grace comes first: “grace precedes every good will” [1]."
    assert body["degraded"] is False and body["role"] == "assistant"
    (citation,) = body["citations"]
    assert citation["n"] == 1 and citation["verified"] is True and citation["source_kind"] == "document"
    assert citation["quote"] == "grace precedes every good will" and citation["title"] == "Institutes"
    assert body["usage"]["cache_read_tokens"] == 800 and body["usage"]["cost_usd"] > 0
    (sent,) = claude_settings.requests
    assert sent["body"]["messages"][-1] == {"role": "user", "content": f"What does {library} teach?"}
    system_text = " ".join(block["text"] for block in sent["body"]["system"])
    assert f"[1] Institutes, p. 1\nThe {library} tradition" in system_text
    assert sent["body"]["system"][-1]["cache_control"] == {"type": "ephemeral"}
    history = client.get(f"/api/v1/chat/conversations/{conversation_id}/").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"]


def test_sse_streams_the_same_events(client_for: Any, user: Any, library: str, claude_settings: Any) -> None:
    claude_settings.respond(fake.text(["Grace ", "precedes [1]."]))
    client = client_for(user)
    conversation_id = start_conversation(client)
    response = client.post(
        ask_url(conversation_id), {"content": "Why grace?"}, format="json", HTTP_ACCEPT="text/event-stream"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    body = async_to_sync(read)().decode()
    names = [line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("event: ")]
    assert names == ["delta", "delta", "citations", "done"]
    for line in body.splitlines():
        if line.startswith("data: "):
            assert_event(json.loads(line.split(": ", 1)[1]))
    assert Message.objects.filter(conversation_id=conversation_id, role="assistant").count() == 1


def test_without_an_api_key_the_offline_provider_answers(
    client_for: Any, user: Any, library: str, settings: Any
) -> None:
    settings.ANTHROPIC_API_KEY = ""
    client = client_for(user)
    response = client.post(ask_url(start_conversation(client)), {"content": f"{library} grace"}, format="json")
    body = response.json()
    assert body["degraded"] is True
    assert "Claude is not configured" in body["content"]
    assert body["citations"][0]["verified"] is True
    assert AIUsage.objects.get(message_id=body["id"]).cost_usd == 0


def test_empty_and_too_long_questions_are_refused(client_for: Any, user: Any, settings: Any) -> None:
    client = client_for(user)
    conversation_id = start_conversation(client)
    assert_error(client.post(ask_url(conversation_id), {"content": "  "}, format="json"), 400, "validation_error")
    settings.CHAT_MAX_QUESTION_CHARS = 10
    assert_error(client.post(ask_url(conversation_id), {"content": "x" * 11}, format="json"), 400, "message_too_long")


def test_conversations_belong_to_their_owner(client_for: Any, user: Any, make_user: Any) -> None:
    conversation_id = start_conversation(client_for(user))
    for other in (make_user(), make_user(role="admin")):
        client = client_for(other)
        assert_error(client.get(f"/api/v1/chat/conversations/{conversation_id}/"), 404, "not_found")
        assert_error(client.post(ask_url(conversation_id), {"content": "hi"}, format="json"), 404, "not_found")
        assert_error(client.delete(f"/api/v1/chat/conversations/{conversation_id}/"), 404, "not_found")
