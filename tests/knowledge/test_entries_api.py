"""The knowledge entries API: who may do what (the role matrix), the list and its filters,
create / edit / delete / approve / reject, validation in the one error format, and the
work each write leaves behind (audit events, index task, passage access)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.models import AuditEvent
from apps.index.models import Passage
from apps.knowledge.models import KnowledgeEntry
from apps.knowledge.tasks import index_entry_task
from apps.users.models import User
from tests.helpers import assert_error
from tests.knowledge.factories import (
    ENTRIES_URL,
    ApprovedEntryFactory,
    AuthorFactory,
    EntryFactory,
    MemberFactory,
    StaffFactory,
    entry_url,
)

pytestmark = pytest.mark.django_db

Status = KnowledgeEntry.Status


def ids(response: Any) -> list[str]:
    return [row["id"] for row in response.json()["results"]]


# --- the role matrix ----------------------------------------------------------------------


@dataclass
class World:
    people: dict[str, User | None]
    other_author: User
    approved: KnowledgeEntry  # another power user's, approved
    others_draft: KnowledgeEntry
    others_submitted: KnowledgeEntry


@pytest.fixture
def world() -> World:
    other_author = AuthorFactory()
    return World(
        people={
            "admin": StaffFactory(),
            "power": AuthorFactory(),
            "user": MemberFactory(),
            "guest": MemberFactory(role=User.Role.GUEST),
            "pending": AuthorFactory(status=User.Status.PENDING),
            "anonymous": None,
        },
        other_author=other_author,
        approved=ApprovedEntryFactory(author=other_author, title="Approved entry on grace"),
        others_draft=EntryFactory(author=other_author, title="Someone's private draft"),
        others_submitted=EntryFactory(author=other_author, status=Status.SUBMITTED),
    )


@dataclass(frozen=True)
class Action:
    method: str
    target: str  # "list", a World attribute, or "own <status>": an entry of the actor's own
    suffix: str = ""
    data: Any = None


ACTIONS: dict[str, Action] = {
    "list": Action("get", "list"),
    "retrieve-approved": Action("get", "approved"),
    "retrieve-others-draft": Action("get", "others_draft"),
    "create": Action("post", "list", data={"title": "A new entry", "body": "Grace upon grace (John 1:16)."}),
    "update-own": Action("patch", "own approved", data={"body": "Revised text."}),
    "update-others": Action("patch", "approved", data={"body": "Vandalised text."}),
    "delete-own": Action("delete", "own approved"),
    "delete-others": Action("delete", "approved"),
    "approve": Action("post", "others_submitted", "approve/"),
    "approve-own": Action("post", "own submitted", "approve/"),
    "self-approve-by-patch": Action("patch", "own draft", data={"status": "approved"}),
    "reject": Action("post", "others_submitted", "reject/", data={"reason": "Cite a source."}),
}

ROLES = ["admin", "power", "user", "guest", "pending", "anonymous"]
PENDING = (403, "account_pending")  # a token of an account that is not approved is refused
ANON = (401, "not_authenticated")
NF = (404, "not_found")
DENIED = (403, "permission_denied")

# action -> expected (status, error code or None) for admin, power, user, guest, pending, anonymous
EXPECTED: dict[str, tuple[tuple[int, str | None], ...]] = {
    "list": ((200, None), (200, None), (200, None), DENIED, PENDING, ANON),
    "retrieve-approved": ((200, None), (200, None), (200, None), NF, PENDING, ANON),
    "retrieve-others-draft": ((200, None), NF, NF, NF, PENDING, ANON),
    "create": ((201, None), (201, None), DENIED, DENIED, PENDING, ANON),
    "update-own": ((200, None), (200, None), DENIED, NF, PENDING, ANON),
    "update-others": ((200, None), DENIED, DENIED, NF, PENDING, ANON),
    "delete-own": ((204, None), (204, None), DENIED, NF, PENDING, ANON),
    "delete-others": ((204, None), DENIED, DENIED, NF, PENDING, ANON),
    "approve": ((200, None), NF, NF, NF, PENDING, ANON),
    "approve-own": ((200, None), DENIED, NF, NF, PENDING, ANON),
    "self-approve-by-patch": ((200, None), (403, "status_not_allowed"), NF, NF, PENDING, ANON),
    "reject": ((200, None), NF, NF, NF, PENDING, ANON),
}


def _target(world: World, action: Action, actor: User | None) -> KnowledgeEntry | None:
    if action.target == "list":
        return None
    if action.target.startswith("own "):
        # Entries the actor wrote (while a power user, for the user and guest roles).
        author = actor or world.other_author
        return EntryFactory(author=author, status=action.target.removeprefix("own "))
    return getattr(world, action.target)


@pytest.mark.parametrize("action_name", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(client_for, world, role, action_name):
    """Admin: everything. Power user: reads approved entries, writes and manages their own,
    never approves. User: reads approved entries. Guest: nothing (403 on the list and on
    create, 404 on every entry). Pending token: refused; anonymous: 401."""
    action = ACTIONS[action_name]
    actor = world.people[role]
    entry = _target(world, action, actor)
    before = KnowledgeEntry.objects.filter(pk=entry.pk).values().first() if entry else None
    url = ENTRIES_URL if entry is None else entry_url(entry, action.suffix)
    kwargs = {"data": action.data, "format": "json"} if action.data is not None else {}

    response = getattr(client_for(actor), action.method)(url, **kwargs)

    expected_status, code = EXPECTED[action_name][ROLES.index(role)]
    if code is not None:
        error = assert_error(response, expected_status, code)
        if role == "guest" and entry is None:
            assert "Guests have no access to the knowledge store" in error["message"]
        if entry is not None:  # a refusal changes nothing
            assert KnowledgeEntry.objects.filter(pk=entry.pk).values().first() == before
        if entry is not None and expected_status == 404:
            assert entry.title not in response.content.decode()
    else:
        assert response.status_code == expected_status, response.content
        assert "X-Request-ID" in response


def test_guests_get_no_list_but_a_clear_reason(client_for):
    guest = MemberFactory(role=User.Role.GUEST)
    error = assert_error(client_for(guest).get(ENTRIES_URL), 403, "permission_denied")
    assert error["message"] == "Guests have no access to the knowledge store."


def test_an_unknown_or_malformed_entry_id_is_a_json_404(client_for):
    staff = StaffFactory()
    assert_error(client_for(staff).get(entry_url("00000000-0000-4000-8000-000000000000")), 404, "not_found")
    assert_error(client_for(staff).get(f"{ENTRIES_URL}not-a-uuid/"), 404, "not_found")


# --- list and filters -------------------------------------------------------------------


def test_list_is_paginated_newest_change_first_with_what_each_may_read(client_for):
    author = AuthorFactory()
    old = ApprovedEntryFactory(title="Older approved")
    mine = EntryFactory(author=author, title="My own draft")
    new = ApprovedEntryFactory(title="Newer approved")
    hidden = EntryFactory(title="Someone else's draft")
    KnowledgeEntry.objects.filter(pk=old.pk).update(updated_at=new.updated_at.replace(year=2001))

    body = client_for(author).get(ENTRIES_URL, {"page_size": 100}).json()

    assert set(body) == {"count", "next", "previous", "results"}
    seen = [row["id"] for row in body["results"]]
    assert str(mine.pk) in seen and str(new.pk) in seen and str(old.pk) in seen
    assert str(hidden.pk) not in seen
    assert seen.index(str(new.pk)) < seen.index(str(old.pk))
    row = next(row for row in body["results"] if row["id"] == str(mine.pk))
    assert set(row) == {
        "id",
        "title",
        "body",
        "tags",
        "source",
        "status",
        "author",
        "reviewed_at",
        "review_note",
        "created_at",
        "updated_at",
        "can_edit",
    }
    assert row["author"] == {"id": str(author.pk), "display_name": author.display_name}
    assert row["can_edit"] is True
    other = next(row for row in body["results"] if row["id"] == str(new.pk))
    assert other["can_edit"] is False


def test_list_filters_by_tag_status_and_text(client_for):
    staff = StaffFactory()
    marker = staff.pk.hex[:8]  # other test runs share the database: filter within our own rows
    grace = ApprovedEntryFactory(title=f"Grace {marker}", tags=["grace", "soteriology"])
    law = EntryFactory(title=f"Law {marker}", tags=["law"], status=Status.SUBMITTED, source="Calvin, Institutes")
    other = EntryFactory(title=f"Other {marker}", body="Mentions INSTITUTES in the body", tags=["misc"])
    client = client_for(staff)

    def found(**params: str) -> set[str]:
        return set(ids(client.get(ENTRIES_URL, {"q": marker, "page_size": 100, **params})))

    assert found() == {str(grace.pk), str(law.pk), str(other.pk)}
    assert found(tag="grace") == {str(grace.pk)}
    assert found(tag="  GRACE ") == {str(grace.pk)}
    assert found(status="submitted") == {str(law.pk)}
    assert found(tag="law", status="approved") == set()
    assert set(ids(client.get(ENTRIES_URL, {"q": f"law {marker}".upper()}))) == {str(law.pk)}
    institutes = set(ids(client.get(ENTRIES_URL, {"q": "institutes", "page_size": 100})))
    assert {str(law.pk), str(other.pk)} <= institutes  # source and body, any case
    assert str(grace.pk) not in institutes


def test_an_unknown_status_filter_is_a_validation_error(client_for):
    error = assert_error(client_for(StaffFactory()).get(ENTRIES_URL, {"status": "published"}), 400, "validation_error")
    assert "status" in error["details"]


def test_the_list_query_count_does_not_grow_with_entries(client_for, django_assert_max_num_queries):
    author = AuthorFactory()
    EntryFactory(author=author)
    client = client_for(author)
    with CaptureQueriesContext(connection) as few:
        assert client.get(ENTRIES_URL).status_code == 200
    for _ in range(5):
        EntryFactory(author=author)
        ApprovedEntryFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(ENTRIES_URL).status_code == 200


# --- create -------------------------------------------------------------------------------


def test_create_needs_only_title_and_body(client_for, monkeypatch, django_capture_on_commit_callbacks):
    queued: list[str] = []
    monkeypatch.setattr(index_entry_task, "delay", lambda entry_id: queued.append(entry_id))
    author = AuthorFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(author).post(
            ENTRIES_URL, {"title": "  Imputation ", "body": "Righteousness counted (Rom 4:5)."}, format="json"
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Imputation"
    assert body["status"] == "draft"
    assert body["tags"] == [] and body["source"] == ""
    assert body["author"]["id"] == str(author.pk)
    assert body["can_edit"] is True
    assert response["Location"] == entry_url(body["id"])
    assert queued == [body["id"]]
    [event] = AuditEvent.objects.filter(action="knowledge.create", target_id=body["id"])
    assert event.actor == author


def test_create_normalises_tags(client_for):
    response = client_for(AuthorFactory()).post(
        ENTRIES_URL,
        {"title": "Tags", "body": "Body", "tags": [" Grace ", "grace", "Sola  Fide", ""], "source": "Luther"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["tags"] == ["grace", "sola fide"]


def test_power_users_may_submit_but_never_approve_on_create(client_for):
    client = client_for(AuthorFactory())
    submitted = client.post(ENTRIES_URL, {"title": "T", "body": "B", "status": "submitted"}, format="json")
    assert submitted.json()["status"] == "submitted"
    for status in ["approved", "rejected"]:
        response = client.post(ENTRIES_URL, {"title": "T", "body": "B", "status": status}, format="json")
        assert_error(response, 403, "status_not_allowed")


def test_staff_may_publish_at_once(client_for):
    staff = StaffFactory()
    response = client_for(staff).post(ENTRIES_URL, {"title": "T", "body": "B", "status": "approved"}, format="json")
    assert response.status_code == 201
    entry = KnowledgeEntry.objects.get(pk=response.json()["id"])
    assert entry.status == Status.APPROVED
    assert entry.reviewed_by == staff and entry.reviewed_at is not None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"body": "No title"}, "title"),
        ({"title": "No body"}, "body"),
        ({"title": "   ", "body": "Blank title"}, "title"),
        ({"title": "x" * 301, "body": "Too long"}, "title"),
        ({"title": "T", "body": "B", "source": "s" * 501}, "source"),
        ({"title": 12, "body": ["not", "text"]}, "body"),
        ({"title": None, "body": "B"}, "title"),
        ({"title": "T", "body": "B", "status": "published"}, "status"),
        ({"title": "T", "body": "B", "status": 3}, "status"),
        ({"title": "T", "body": "B", "tags": "grace"}, "tags"),
        ({"title": "T", "body": "B", "tags": [{"name": "grace"}]}, "tags"),
        ({"title": "T", "body": "B", "tags": ["x" * 51]}, "tags"),
        ({"title": "T", "body": "B", "tags": [f"tag{i}" for i in range(21)]}, "tags"),
    ],
)
def test_invalid_entries_are_refused_with_the_field_named(client_for, data, field):
    error = assert_error(client_for(AuthorFactory()).post(ENTRIES_URL, data, format="json"), 400, "validation_error")
    assert field in error["details"], error


def test_a_body_that_is_not_json_is_a_parse_error(client_for):
    response = client_for(AuthorFactory()).post(ENTRIES_URL, "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


# --- update -------------------------------------------------------------------------------


def test_authors_edit_and_submit_their_drafts(client_for, monkeypatch, django_capture_on_commit_callbacks):
    queued: list[str] = []
    monkeypatch.setattr(index_entry_task, "delay", lambda entry_id: queued.append(entry_id))
    entry = EntryFactory(title="Draft")
    client = client_for(entry.author)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(entry_url(entry), {"title": "Final", "tags": ["Grace"]}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "Final" and response.json()["tags"] == ["grace"]
    assert queued == [str(entry.pk)]  # new text: embedded again

    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(entry_url(entry), {"status": "submitted"}, format="json")
    assert response.json()["status"] == "submitted"
    assert queued == [str(entry.pk)]  # a status change alone is not re-embedded
    events = AuditEvent.objects.filter(action="knowledge.update", target_id=str(entry.pk)).order_by("created_at")
    assert [e.data for e in events][-1] == {"status": {"from": "draft", "to": "submitted"}}


def test_an_authors_edit_to_an_approved_entry_goes_back_to_review(client_for):
    entry = ApprovedEntryFactory()
    passage = Passage.objects.create(
        source_kind=Passage.SourceKind.KNOWLEDGE,
        source_id=entry.pk,
        chunk_index=0,
        text="old text",
        visibility=Passage.Visibility.MEMBERS,
        owner_id=entry.author_id,
    )
    client = client_for(entry.author)

    tags_only = client.patch(entry_url(entry), {"tags": ["new-tag"]}, format="json")
    assert tags_only.json()["status"] == "approved"

    response = client.patch(entry_url(entry), {"body": "Rewritten"}, format="json")
    assert response.json()["status"] == "submitted"
    passage.refresh_from_db()
    assert passage.visibility == Passage.Visibility.PRIVATE  # out of members' search at once


def test_staff_edits_keep_an_entry_approved(client_for):
    entry = ApprovedEntryFactory()
    response = client_for(StaffFactory()).patch(entry_url(entry), {"body": "Corrected"}, format="json")
    assert response.json()["status"] == "approved"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": ""}, "title"),
        ({"body": "   "}, "body"),
        ({"status": "unknown"}, "status"),
        ({"tags": 5}, "tags"),
        ({"title": "y" * 400}, "title"),
    ],
)
def test_invalid_updates_are_refused(client_for, data, field):
    entry = EntryFactory()
    error = assert_error(client_for(entry.author).patch(entry_url(entry), data, format="json"), 400, "validation_error")
    assert field in error["details"]


# --- delete, approve, reject --------------------------------------------------------------


def test_delete_removes_the_entry_and_its_passages(client_for):
    entry = EntryFactory()
    Passage.objects.create(
        source_kind=Passage.SourceKind.KNOWLEDGE, source_id=entry.pk, chunk_index=0, text="t", owner_id=entry.author_id
    )

    assert client_for(entry.author).delete(entry_url(entry)).status_code == 204

    assert not KnowledgeEntry.objects.filter(pk=entry.pk).exists()
    assert not Passage.objects.filter(source_id=entry.pk).exists()
    [event] = AuditEvent.objects.filter(action="knowledge.delete", target_id=str(entry.pk))
    assert event.data == {"title": entry.title}


def test_staff_approve_and_reject_with_a_reason(client_for):
    staff = StaffFactory()
    entry = EntryFactory(status=Status.SUBMITTED)
    client = client_for(staff)

    approved = client.post(entry_url(entry, "approve/"))
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved" and approved.json()["reviewed_at"]

    rejected = client.post(entry_url(entry, "reject/"), {"reason": "Needs a source."}, format="json")
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["review_note"] == "Needs a source."
    actions = list(
        AuditEvent.objects.filter(target_id=str(entry.pk)).order_by("created_at").values_list("action", flat=True)
    )
    assert actions == ["knowledge.approve", "knowledge.reject"]

    assert client.post(entry_url(entry, "approve/")).json()["review_note"] == ""


def test_reject_needs_a_reason(client_for):
    entry = EntryFactory(status=Status.SUBMITTED)
    client = client_for(StaffFactory())
    error = assert_error(client.post(entry_url(entry, "reject/"), {}, format="json"), 400, "validation_error")
    assert "reason" in error["details"]
    error = assert_error(
        client.post(entry_url(entry, "reject/"), {"reason": "   "}, format="json"), 400, "validation_error"
    )
    assert "reason" in error["details"]
    entry.refresh_from_db()
    assert entry.status == Status.SUBMITTED


def test_a_power_user_cannot_reject_their_own_entry_even_with_a_bad_body(client_for):
    entry = EntryFactory(status=Status.SUBMITTED)
    assert_error(
        client_for(entry.author).post(entry_url(entry, "reject/"), {}, format="json"), 403, "permission_denied"
    )


def test_approval_opens_the_passages_to_members_without_reembedding(
    client_for, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[str] = []
    monkeypatch.setattr(index_entry_task, "delay", lambda entry_id: queued.append(entry_id))
    entry = EntryFactory(status=Status.SUBMITTED)
    passage = Passage.objects.create(
        source_kind=Passage.SourceKind.KNOWLEDGE, source_id=entry.pk, chunk_index=0, text="t", owner_id=entry.author_id
    )

    with django_capture_on_commit_callbacks(execute=True):
        client_for(StaffFactory()).post(entry_url(entry, "approve/"))

    passage.refresh_from_db()
    assert passage.visibility == Passage.Visibility.MEMBERS
    assert queued == []
