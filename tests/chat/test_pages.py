"""The chat pages with forged form input: a clear page error, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from apps.chat.models import Conversation, Persona


@pytest.mark.parametrize(
    "form",
    [
        {"scope": "all", "persona": "not-a-uuid"},
        {"scope": "document", "document_id": "1 OR 1=1"},
        {"scope": "document", "persona": "42", "document_id": "../etc"},
        {"scope": "all", "persona": str(uuid.uuid4())},  # a UUID, but no such persona
    ],
    ids=["persona", "document", "both", "unknown-persona"],
)
def test_new_conversation_with_a_forged_id_is_a_400_page(client: Any, make_user: Any, form: dict[str, str]) -> None:
    client.force_login(make_user())
    response = client.post("/chat/new/", form)
    assert response.status_code == 400
    page = response.content.decode()
    assert "That persona or document does not exist" in page and "Ask Theo" in page
    assert not Conversation.objects.exists()


def test_new_conversation_with_an_unknown_document_says_so(client: Any, make_user: Any) -> None:
    client.force_login(make_user())
    response = client.post("/chat/new/", {"scope": "document", "document_id": str(uuid.uuid4())}, follow=True)
    assert response.status_code == 200
    assert "No such document" in response.content.decode()
    assert not Conversation.objects.exists()


def test_new_conversation_with_a_real_persona_still_works(client: Any, make_user: Any) -> None:
    client.force_login(make_user())
    persona = Persona.objects.filter(is_active=True).first()
    assert persona is not None
    response = client.post("/chat/new/", {"scope": "bible", "persona": str(persona.pk)})
    assert response.status_code == 302
    assert Conversation.objects.get().persona == persona
