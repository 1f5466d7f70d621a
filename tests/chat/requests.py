"""The chat API requests tests make: start a conversation, ask in it."""

from __future__ import annotations

from typing import Any

CONVERSATIONS_URL = "/api/v1/chat/conversations/"


def start_conversation(client: Any, **fields: Any) -> str:
    """A new conversation (scope "documents" unless given); its id."""
    response = client.post(CONVERSATIONS_URL, {"scope": "documents", **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def ask_url(conversation_id: str) -> str:
    return f"{CONVERSATIONS_URL}{conversation_id}/messages/"


def ask(client: Any, conversation_id: str, content: str) -> dict[str, Any]:
    """Ask and get the finished answer (plain POST)."""
    response = client.post(ask_url(conversation_id), {"content": content}, format="json")
    assert response.status_code == 201, response.content
    return response.json()
