"""The chat admin: personas editable by staff, usage listed with totals, conversations shown
as metadata only (their contents are their owners'); persona prompts are staff's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from apps.chat.models import AIUsage, Persona
from apps.core.models import AuditEvent
from tests.index.corpus import marker

pytestmark = pytest.mark.django_db


def test_usage_list_shows_totals(client: Any, make_user: Any) -> None:
    staff, reader = make_user(role="admin"), make_user()
    AIUsage.objects.create(
        user=reader, model="claude-sonnet-5-5", input_tokens=1200, output_tokens=300, cost_usd=Decimal("0.0081")
    )
    client.force_login(staff)
    page = client.get("/admin/chat/aiusage/", {"q": reader.email}).content.decode()
    assert "1 answers, $0.0081" in page and "1,200 in / 300 out tokens" in page
    assert client.get("/admin/chat/aiusage/add/").status_code == 403


def test_staff_edit_personas_and_it_is_audited(client: Any, make_user: Any) -> None:
    staff = make_user(role="admin")
    client.force_login(staff)
    response = client.post(
        "/admin/chat/persona/add/",
        {
            "name": "Liturgist",
            "description": "",
            "system_prompt": "You are a liturgist.",
            "tradition": "",
            "default_scope": "bible",
            "is_active": "on",
            "sort_order": "4",
        },
    )
    assert response.status_code == 302, response.content
    persona = Persona.objects.get(name="Liturgist")
    assert AuditEvent.objects.filter(action="chat.persona.create", target_id=str(persona.pk)).exists()


def test_readers_cannot_open_the_chat_admin(client: Any, make_user: Any) -> None:
    client.force_login(make_user(role="power"))
    assert client.get("/admin/chat/persona/").status_code in (302, 403)


def test_conversation_contents_are_not_browsable_in_the_admin(client: Any, make_user: Any) -> None:
    """Staff see who chats and how much, never what: no title (the first question), no
    messages, not in the list, the detail page, search, AI usage rows or the audit trail."""
    from apps.chat.models import Conversation, Message
    from apps.chat.services import conversation_delete

    staff, reader = make_user(role="admin"), make_user()
    secret = f"SECRET{marker()}"
    conversation = Conversation.objects.create(owner=reader, title=f"My {secret} doubts", scope="all")
    Message.objects.create(conversation=conversation, role="user", content=f"Is {secret} a sin?")
    answer = Message.objects.create(conversation=conversation, role="assistant", content=f"About {secret} [1].")
    usage = AIUsage.objects.create(user=reader, message=answer, model="claude-sonnet-5-5", cost_usd=Decimal("0.01"))

    # Positive control: the secret is stored and its owner's page shows it (so the check can see it).
    client.force_login(reader)
    assert secret in client.get(f"/chat/{conversation.pk}/").content.decode()

    client.force_login(staff)
    search = client.get("/admin/chat/conversation/", {"q": secret}).content.decode()
    assert "0 results" in search  # the search box echoes the query; titles are not searched
    pages = {
        "list": client.get("/admin/chat/conversation/"),
        "detail": client.get(f"/admin/chat/conversation/{conversation.pk}/change/"),
        "usage list": client.get("/admin/chat/aiusage/"),
        "usage detail": client.get(f"/admin/chat/aiusage/{usage.pk}/change/"),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert secret not in page.content.decode(), name
    assert str(reader.email) in pages["list"].content.decode()  # the metadata is there

    conversation_id = str(conversation.pk)
    conversation_delete(conversation=conversation, actor=reader)
    event = AuditEvent.objects.get(action="chat.conversation.delete", target_id=conversation_id)
    assert secret not in event.target_repr and secret not in str(event.data)
    assert secret not in client.get("/admin/core/auditevent/").content.decode()


def test_persona_system_prompts_are_for_staff_only(client_for: Any, make_user: Any) -> None:
    secret_prompt = f"You are a persona {marker()} with a house style."
    Persona.objects.create(name=f"House {marker()}", system_prompt=secret_prompt, is_active=True)
    for role in ("user", "power", "guest"):
        response = client_for(make_user(role=role)).get("/api/v1/chat/personas/")
        assert response.status_code == 200, role
        assert secret_prompt not in response.content.decode(), role
        assert all("system_prompt" not in persona for persona in response.json()), role
    staff_view = client_for(make_user(role="admin")).get("/api/v1/chat/personas/").json()
    assert secret_prompt in [persona["system_prompt"] for persona in staff_view]
