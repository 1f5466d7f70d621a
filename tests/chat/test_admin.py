"""The chat admin: personas editable by staff, usage listed with totals, conversations read-only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from apps.chat.models import AIUsage, Persona
from apps.core.models import AuditEvent

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
