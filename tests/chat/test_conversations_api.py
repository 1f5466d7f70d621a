"""Personas, conversations, usage over the API; HTTP rate limit; scopes; pages."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.chat.models import AIUsage, Conversation, Persona
from apps.core.breaker import claude_breaker
from apps.core.models import AuditEvent
from tests.chat import fake_claude as fake
from tests.chat.requests import CONVERSATIONS_URL as CONVERSATIONS
from tests.helpers import assert_error, bearer
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db(transaction=True)


def test_personas_are_seeded_listed_and_staff_only_to_create(client_for: Any, make_user: Any) -> None:
    names = [p["name"] for p in client_for(make_user()).get("/api/v1/chat/personas/").json()]
    assert {"Careful exegete", "Pastoral counsellor", "Church historian"} <= set(names)
    Persona.objects.create(name=f"Hidden {marker()}", system_prompt="x", is_active=False)
    assert not any(
        n.startswith("Hidden")
        for n in [p["name"] for p in client_for(make_user()).get("/api/v1/chat/personas/").json()]
    )
    new = {"name": f"Liturgist {marker()}", "system_prompt": "You are a liturgist.", "default_scope": "bible"}
    assert_error(
        client_for(make_user(role="power")).post("/api/v1/chat/personas/", new, format="json"), 403, "permission_denied"
    )
    response = client_for(make_user(role="admin")).post("/api/v1/chat/personas/", new, format="json")
    assert response.status_code == 201 and response.json()["default_scope"] == "bible"


def test_conversation_lifecycle(client_for: Any, make_user: Any) -> None:
    client = client_for(make_user())
    persona = Persona.objects.get(name="Church historian")
    created = client.post(CONVERSATIONS, {"persona_id": str(persona.pk)}, format="json").json()
    assert created["persona"]["name"] == "Church historian" and created["scope"] == persona.default_scope
    listed = client.get(CONVERSATIONS).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == created["id"]
    renamed = client.patch(f"{CONVERSATIONS}{created['id']}/", {"title": "On Nicaea"}, format="json").json()
    assert renamed["title"] == "On Nicaea" and renamed["messages"] == []
    assert client.delete(f"{CONVERSATIONS}{created['id']}/").status_code == 204
    assert_error(client.get(f"{CONVERSATIONS}{created['id']}/"), 404, "not_found")


@pytest.mark.parametrize("other_role", ["user", "admin"])
def test_another_users_patch_of_a_conversation_is_404_and_changes_nothing(
    client_for: Any, make_user: Any, other_role: str
) -> None:
    owner = make_user()
    persona = Persona.objects.get(name="Church historian")
    created = client_for(owner).post(CONVERSATIONS, {"title": "Mine", "persona_id": str(persona.pk)}, format="json")
    assert created.status_code == 201, created.content
    conversation = Conversation.objects.get(pk=created.json()["id"])
    before = Conversation.objects.filter(pk=conversation.pk).values().get()
    audit_before = AuditEvent.objects.count()
    other_persona = Persona.objects.get(name="Pastoral counsellor")

    response = client_for(make_user(role=other_role)).patch(
        f"{CONVERSATIONS}{conversation.pk}/",
        {"title": "Taken over", "scope": "bible", "persona_id": str(other_persona.pk)},
        format="json",
    )

    error = assert_error(response, 404, "not_found")
    assert "Mine" not in str(error)
    assert Conversation.objects.filter(pk=conversation.pk).values().get() == before
    assert AuditEvent.objects.count() == audit_before
    assert client_for(owner).get(f"{CONVERSATIONS}{conversation.pk}/").json()["title"] == "Mine"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"scope": "everything"}, "scope"),
        ({"persona_id": "not-a-uuid"}, "persona_id"),
        ({"scope": "document"}, "document_id"),
    ],
)
def test_bad_conversation_input(client_for: Any, make_user: Any, payload: dict, field: str) -> None:
    error = assert_error(client_for(make_user()).post(CONVERSATIONS, payload, format="json"), 400, "validation_error")
    assert field in error["details"]


def test_one_document_scope_needs_a_readable_document(client_for: Any, make_user: Any, claude_settings: Any) -> None:
    owner, other = make_user(), make_user()
    mine = add_passages([f"{marker()} on grace."], owner=owner, title="Mine")
    add_passages(["Another book on grace."], owner=owner, title="Other")
    theirs = add_passages(["Their book on grace."], owner=other, title="Theirs")
    client = client_for(owner)
    stranger = {"scope": "document", "document_id": str(theirs[0].source_id)}
    assert_error(client.post(CONVERSATIONS, stranger, format="json"), 404, "not_found")
    conversation = client.post(
        CONVERSATIONS, {"scope": "document", "document_id": str(mine[0].source_id)}, format="json"
    )
    assert conversation.status_code == 201
    client.post(f"{CONVERSATIONS}{conversation.json()['id']}/messages/", {"content": "grace"}, format="json")
    system = str(claude_settings.requests[0]["body"]["system"])
    assert "Mine" in system and "Other" not in system and "Theirs" not in system


def test_http_rate_limit_is_a_429(client_for: Any, make_user: Any, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "chat": "1/h"}
    settings.ANTHROPIC_API_KEY = ""
    client = client_for(make_user())
    url = f"{CONVERSATIONS}{client.post(CONVERSATIONS, {}, format='json').json()['id']}/messages/"
    assert client.post(url, {"content": "one"}, format="json").status_code == 201
    response = client.post(url, {"content": "two"}, format="json", HTTP_ACCEPT="text/event-stream")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1


def test_half_open_trial_closes_the_breaker_on_success(
    client_for: Any, make_user: Any, claude_settings: Any, settings: Any
) -> None:
    settings.LLM_BREAKER_FAILURES = 1
    settings.LLM_BREAKER_RESET_SECONDS = 1
    claude_breaker().reset()
    client = client_for(make_user())
    url = f"{CONVERSATIONS}{client.post(CONVERSATIONS, {}, format='json').json()['id']}/messages/"
    claude_settings.respond(fake.error(500), fake.text("Back [1]."))
    assert client.post(url, {"content": "a"}, format="json").json()["degraded"] is True
    assert claude_breaker().state().value == "open"
    assert client.post(url, {"content": "b"}, format="json").json()["degraded"] is True  # still open: no call
    assert len(claude_settings.requests) == 1
    time.sleep(1.1)
    assert client.post(url, {"content": "c"}, format="json").json()["degraded"] is False  # the trial
    assert claude_breaker().state().value == "closed"
    claude_breaker().reset()


def test_usage_is_own_and_staff_see_everyone(client_for: Any, make_user: Any) -> None:
    ann, bob, staff = make_user(), make_user(), make_user(role="admin")
    AIUsage.objects.create(
        user=ann, model="claude-sonnet-5-5", input_tokens=100, output_tokens=10, cost_usd=Decimal("0.5")
    )
    AIUsage.objects.create(user=bob, model="claude-sonnet-5-5", input_tokens=7, cost_usd=Decimal("0.25"))
    mine = client_for(ann).get("/api/v1/usage/").json()
    assert mine["covers"] == "you" and len(mine["results"]) == 30
    assert sum(day["cost_usd"] for day in mine["results"]) == pytest.approx(0.5)
    assert mine["results"][-1]["input_tokens"] == 100 and mine["budget"]["spent_this_month_usd"] == pytest.approx(0.5)
    assert "users" not in mine
    everyone = client_for(staff).get("/api/v1/usage/", {"period": "month", "days": 60}).json()
    assert everyone["covers"] == "everyone"
    assert {row["email"] for row in everyone["users"]} >= {ann.email, bob.email}
    assert_error(client_for(ann).get("/api/v1/usage/", {"period": "year"}), 400, "validation_error")


def test_pages(client: Any, make_user: Any) -> None:
    user = make_user()
    client.force_login(user)
    assert "Ask Theo" in client.get("/chat/").content.decode()
    persona = Persona.objects.first()
    assert persona is not None
    response = client.post("/chat/new/", {"scope": "bible", "persona": str(persona.pk)})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'id="chat"' in page and "markdown.js" in page
    other = make_user()
    client.force_login(other)
    assert client.get(response["Location"]).status_code == 404
    assert "AI usage" in client.get("/usage/").content.decode()


def test_history_is_embedded_as_json_not_html(client: Any, make_user: Any, settings: Any) -> None:
    settings.ANTHROPIC_API_KEY = ""
    user = make_user()
    client.force_login(user)
    conversation = client.post("/chat/new/", {"scope": "bible"})["Location"]
    conversation_id = conversation.rstrip("/").rsplit("/", 1)[1]
    api = APIClient()
    api.credentials(**bearer(user))
    api.post(f"{CONVERSATIONS}{conversation_id}/messages/", {"content": "<script>alert('x')</script>"}, format="json")
    page = client.get(conversation).content.decode()
    assert "<script>alert('x')</script>" not in page
    assert "\\u003Cscript\\u003E" in page


def test_one_conversation_counts_its_messages_like_the_list(client_for: Any, make_user: Any, settings: Any) -> None:
    settings.ANTHROPIC_API_KEY = ""  # the offline provider answers
    client = client_for(make_user())
    url = f"{CONVERSATIONS}{client.post(CONVERSATIONS, {}, format='json').json()['id']}/"
    assert client.post(f"{url}messages/", {"content": "What is grace?"}, format="json").status_code == 201
    listed = client.get(CONVERSATIONS).json()["results"][0]
    detail = client.get(url).json()
    renamed = client.patch(url, {"title": "Grace"}, format="json").json()
    assert listed["message_count"] == detail["message_count"] == renamed["message_count"] == 2
