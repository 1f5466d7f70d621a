"""Curating knowledge in the Django admin: the entry list, bulk approve and reject (with a
reason), add / change / delete through the services, and the read-only passage index."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from apps.core.models import AuditEvent
from apps.index.models import Passage
from apps.knowledge.models import KnowledgeEntry
from apps.users.models import User
from tests.knowledge.factories import ApprovedEntryFactory, AuthorFactory, EntryFactory, StaffFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/knowledge/knowledgeentry/"
PASSAGES = "/admin/index/passage/"
Status = KnowledgeEntry.Status


@pytest.fixture
def staff() -> User:
    return StaffFactory()


@pytest.fixture
def console(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def run_action(client: Client, action: str, entries: list[KnowledgeEntry], **extra: str) -> Any:
    return client.post(CHANGELIST, {"action": action, "_selected_action": [str(e.pk) for e in entries], **extra})


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def knowledge_passage(entry: KnowledgeEntry, visibility: str = Passage.Visibility.PRIVATE) -> Passage:
    return Passage.objects.create(
        source_kind=Passage.SourceKind.KNOWLEDGE,
        source_id=entry.pk,
        chunk_index=0,
        title=entry.title,
        text=entry.body,
        visibility=visibility,
        owner_id=entry.author_id,
    )


def test_the_entry_list_shows_status_author_and_tags(console):
    entry = EntryFactory(status=Status.SUBMITTED, tags=["grace", "law"])
    page = console.get(CHANGELIST, {"q": entry.title}).content.decode()
    assert entry.title in page
    assert "Submitted for review" in page
    assert entry.author.email in page
    assert "grace, law" in page
    assert "Approve selected entries" in page
    filtered = console.get(CHANGELIST, {"status__exact": "approved", "q": entry.title}).content.decode()
    assert f"{CHANGELIST}{entry.pk}/change/" in page
    assert f"{CHANGELIST}{entry.pk}/change/" not in filtered


def test_bulk_approve_goes_through_the_service(console, staff):
    first, second = EntryFactory(status=Status.SUBMITTED), EntryFactory(status=Status.DRAFT)
    passage = knowledge_passage(first)

    response = run_action(console, "approve", [first, second])

    assert response.status_code == 302
    assert "2 entry(ies) approved." in messages_of(response)
    for entry in (first, second):
        entry.refresh_from_db()
        assert entry.status == Status.APPROVED and entry.reviewed_by == staff
        [event] = AuditEvent.objects.filter(action="knowledge.approve", target_id=str(entry.pk))
        assert event.actor == staff
    passage.refresh_from_db()
    assert passage.visibility == Passage.Visibility.MEMBERS


def test_bulk_reject_asks_for_a_reason_first(console):
    entry = ApprovedEntryFactory()
    passage = knowledge_passage(entry, Passage.Visibility.MEMBERS)

    ask = run_action(console, "reject", [entry])
    assert ask.status_code == 200
    assert 'name="reason"' in ask.content.decode()
    entry.refresh_from_db()
    assert entry.status == Status.APPROVED

    done = run_action(console, "reject", [entry], reason="Contradicts the source.", apply="1")
    assert done.status_code == 302
    assert "1 entry(ies) rejected." in messages_of(done)
    rejected = KnowledgeEntry.objects.get(pk=entry.pk)
    assert rejected.status == Status.REJECTED and rejected.review_note == "Contradicts the source."
    passage.refresh_from_db()
    assert passage.visibility == Passage.Visibility.PRIVATE


def test_adding_an_entry_in_the_admin_uses_the_service(console, staff):
    response = console.post(
        f"{CHANGELIST}add/",
        {
            "title": "Admin entry",
            "body": "Written in the admin.",
            "tags": "Grace, grace",
            "source": "",
            "status": "approved",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = KnowledgeEntry.objects.get(author=staff, title="Admin entry")
    assert entry.status == Status.APPROVED and entry.tags == ["grace"] and entry.reviewed_by == staff
    assert AuditEvent.objects.filter(action="knowledge.create", target_id=str(entry.pk)).exists()


def test_the_admin_form_refuses_bad_tags(console):
    response = console.post(
        f"{CHANGELIST}add/",
        {"title": "Bad tags", "body": "B", "tags": "x" * 51, "source": "", "status": "draft"},
    )
    assert response.status_code == 200
    assert "Tags are at most 50 characters" in response.content.decode()


def test_changing_an_entry_in_the_admin_uses_the_service(console, staff):
    entry = EntryFactory(status=Status.SUBMITTED)
    old_title = entry.title
    response = console.post(
        f"{CHANGELIST}{entry.pk}/change/",
        {"title": "Renamed", "body": entry.body, "tags": "law", "source": entry.source, "status": "approved"},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.title, entry.tags, entry.status, entry.reviewed_by) == ("Renamed", ["law"], Status.APPROVED, staff)
    [event] = AuditEvent.objects.filter(action="knowledge.update", target_id=str(entry.pk))
    assert event.data["title"] == {"from": old_title, "to": "Renamed"}
    assert event.data["status"] == {"from": "submitted", "to": "approved"}


def test_deleting_in_the_admin_removes_the_passages(console):
    entry, other = EntryFactory(), EntryFactory()
    knowledge_passage(entry)
    knowledge_passage(other)

    single = console.post(f"{CHANGELIST}{entry.pk}/delete/", {"post": "yes"})
    assert single.status_code == 302
    bulk = run_action(console, "delete_selected", [other], post="yes")
    assert bulk.status_code == 302

    for gone in (entry, other):
        assert not KnowledgeEntry.objects.filter(pk=gone.pk).exists()
        assert not Passage.objects.filter(source_id=gone.pk).exists()
        assert AuditEvent.objects.filter(action="knowledge.delete", target_id=str(gone.pk)).exists()


def test_passages_are_read_only_in_the_admin(console):
    entry = EntryFactory(title=f"Indexed {AuthorFactory().pk.hex[:8]}")
    passage = knowledge_passage(entry)

    listing = console.get(PASSAGES, {"q": entry.title})
    assert listing.status_code == 200
    assert entry.title in listing.content.decode()
    assert console.get(PASSAGES, {"source_kind__exact": "knowledge", "visibility__exact": "private"}).status_code == 200
    detail = console.get(f"{PASSAGES}{passage.pk}/change/")
    assert detail.status_code == 200
    assert 'name="text"' not in detail.content.decode()  # shown, not editable
    assert console.get(f"{PASSAGES}add/").status_code == 403
    assert console.post(f"{PASSAGES}{passage.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Passage.objects.filter(pk=passage.pk).exists()


def test_non_staff_cannot_enter(client):
    client.force_login(AuthorFactory())
    response = client.get(CHANGELIST)
    assert response.status_code in (302, 403)
