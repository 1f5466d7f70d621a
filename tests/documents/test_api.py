"""The documents API after upload: who may do what on every route (the share matrix),
the list and its filters, detail, rename, delete, reprocess and passages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.documents import storage
from apps.documents.models import Document, DocumentAccess, DocumentNote
from apps.documents.tasks import ingest_document_task
from apps.index.models import Passage
from apps.users.models import User
from tests.documents.factories import (
    DOCUMENTS_URL,
    CompletedDocumentFactory,
    DocumentFactory,
    DocumentPassageFactory,
    NoteFactory,
    ReaderFactory,
    ShareFactory,
    document_url,
)
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def ids(response: Any) -> list[str]:
    return [row["id"] for row in response.json()["results"]]


# --- the share matrix -------------------------------------------------------------------


@dataclass
class World:
    document: Document
    owner: User
    staff: User
    editor: User
    viewer: User
    guest_editor: User
    stranger: User
    stranger_guest: User
    recipient: User  # an approved user the document is not shared with yet
    bystander: User  # shared for viewing: the one whose share gets removed


@pytest.fixture
def world() -> World:
    owner = ReaderFactory()
    document = CompletedDocumentFactory(owner=owner, title="Private commentary on Galatians")
    DocumentPassageFactory(document=document, page_start=1, page_end=2)
    NoteFactory(document=document)
    people = {
        "editor": ReaderFactory(),
        "viewer": ReaderFactory(),
        "guest_editor": ReaderFactory(role=User.Role.GUEST),
        "bystander": ReaderFactory(),
    }
    ShareFactory(document=document, user=people["editor"], permission="edit")
    ShareFactory(document=document, user=people["viewer"], permission="view")
    ShareFactory(document=document, user=people["guest_editor"], permission="edit")
    ShareFactory(document=document, user=people["bystander"], permission="view")
    return World(
        document=document,
        owner=owner,
        staff=ReaderFactory(role=User.Role.ADMIN),
        stranger=ReaderFactory(),
        stranger_guest=ReaderFactory(role=User.Role.GUEST),
        recipient=ReaderFactory(),
        **people,
    )


VIEW, EDIT, OWNER = 1, 2, 3

# role -> (who, their access level: None anonymous, 0 none, 1 view, 2 edit, 3 everything)
ROLES: dict[str, tuple[str | None, int | None]] = {
    "owner": ("owner", OWNER),
    "staff": ("staff", 0),  # staff moderate in the admin console, not through the API
    "edit-sharee": ("editor", EDIT),
    "view-sharee": ("viewer", VIEW),
    "guest-with-edit-share": ("guest_editor", VIEW),
    "other-user": ("stranger", 0),
    "other-guest": ("stranger_guest", 0),
    "anonymous": (None, None),
}


@dataclass(frozen=True)
class Route:
    method: str
    suffix: str
    need: int
    success: int
    data: Any = None  # a function of the world, giving the JSON body
    params: str = ""


ROUTES: dict[str, Route] = {
    "detail-get": Route("get", "", VIEW, 200),
    "detail-patch": Route("patch", "", EDIT, 200, data=lambda w: {"title": "Renamed by someone"}),
    "detail-delete": Route("delete", "", OWNER, 204),
    "file": Route("get", "file/", VIEW, 200),
    "progress": Route("get", "progress/", VIEW, 200),
    "passages": Route("get", "passages/", VIEW, 200),
    "reprocess": Route("post", "reprocess/", EDIT, 202),
    "shares-get": Route("get", "shares/", OWNER, 200),
    "shares-post": Route(
        "post", "shares/", OWNER, 201, data=lambda w: {"email": w.recipient.email, "permission": "view"}
    ),
    "shares-delete": Route("delete", "shares/", OWNER, 204, data=lambda w: {"email": w.bystander.email}),
    "shares-delete-query": Route("delete", "shares/", OWNER, 204, params="bystander"),
    "notes-get": Route("get", "notes/", VIEW, 200),
    "notes-post": Route("post", "notes/", EDIT, 201, data=lambda w: {"body": "A note on Gal 2:20", "page": 1}),
}


@pytest.mark.parametrize("route_name", ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_share_matrix(client_for, world, role, route_name):
    """The owner may do everything (staff too, but only on their own documents); an edit
    share reads, renames, reprocesses and writes notes; a view share (and a guest's edit
    share) only reads; anyone else gets 404 on every route, never a hint that the document
    exists; anonymous gets 401."""
    who, level = ROLES[role]
    route = ROUTES[route_name]
    client = client_for(getattr(world, who) if who else None)
    url = document_url(world.document, route.suffix)
    if route.params:
        url += f"?email={getattr(world, route.params).email}"
    kwargs: dict[str, Any] = {}
    if route.data is not None:
        kwargs = {"data": route.data(world), "format": "json"}
    if route_name == "progress":
        kwargs["HTTP_ACCEPT"] = "text/event-stream"

    response = getattr(client, route.method)(url, **kwargs)

    assert "X-Request-ID" in response
    if level is None:
        assert_error(response, 401, "not_authenticated")
    elif level == 0:
        assert_error(response, 404, "not_found")
        assert world.document.title not in response.content.decode()
    elif level < route.need:
        assert_error(response, 403, "permission_denied")
    else:
        assert response.status_code == route.success, getattr(response, "content", response)
        if route_name == "progress":
            assert response["Content-Type"].startswith("text/event-stream")
        if route_name == "file":
            assert b"".join(response.streaming_content) == storage.path_for(world.document).read_bytes()
        response.close()
    # Nothing was deleted by someone who may not delete.
    if route_name == "detail-delete" and (level or 0) < OWNER:
        assert Document.objects.filter(pk=world.document.pk).exists()
    if route_name.startswith("shares-delete") and (level or 0) < OWNER:
        assert DocumentAccess.objects.filter(document=world.document, user=world.bystander).exists()


def test_an_unknown_document_is_404_on_every_route(client_for, world):
    client = client_for(world.staff)
    missing = "00000000-0000-4000-8000-000000000000"
    for suffix in ["", "file/", "progress/", "passages/", "shares/", "notes/"]:
        assert_error(client.get(document_url(missing, suffix)), 404, "not_found")
    assert_error(client.post(document_url(missing, "reprocess/")), 404, "not_found")


def test_a_malformed_document_id_is_a_json_404(client_for, world):
    assert_error(client_for(world.owner).get(f"{DOCUMENTS_URL}not-a-uuid/"), 404, "not_found")


# --- list ---------------------------------------------------------------------------------


def test_list_is_paginated_and_shows_only_what_the_user_may_see(client_for):
    reader = ReaderFactory()
    mine_old = DocumentFactory(owner=reader, title="Older sermon")
    mine_new = DocumentFactory(owner=reader, title="Newer sermon")
    shared = ShareFactory(user=reader, permission="edit").document
    DocumentFactory(title="Someone else's diary")

    response = client_for(reader).get(DOCUMENTS_URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert set(ids(response)) == {str(mine_old.pk), str(mine_new.pk), str(shared.pk)}
    assert ids(response).index(str(mine_new.pk)) < ids(response).index(str(mine_old.pk))  # newest first
    access = {row["id"]: row["access"] for row in body["results"]}
    assert access[str(mine_new.pk)] == "owner"
    assert access[str(shared.pk)] == "edit"
    assert "Someone else's diary" not in response.content.decode()

    first_page = client_for(reader).get(DOCUMENTS_URL, {"page_size": 2}).json()
    assert len(first_page["results"]) == 2 and first_page["next"]
    second_page = client_for(reader).get(first_page["next"]).json()
    assert len(second_page["results"]) == 1


def test_staff_list_their_own_and_shared_documents_like_everyone_else(client_for):
    staff = ReaderFactory(role=User.Role.ADMIN)
    own = DocumentFactory(title="Alpha staffcheck", owner=staff)
    shared = ShareFactory(user=staff, permission="view").document
    shared.title = "Gamma staffcheck"
    shared.save(update_fields=["title"])
    DocumentFactory(title="Beta staffcheck")  # someone else's private document
    response = client_for(staff).get(DOCUMENTS_URL, {"q": "staffcheck"})
    assert set(ids(response)) == {str(own.pk), str(shared.pk)}


def test_guests_see_only_what_is_shared_with_them_and_never_more_than_view(client_for):
    guest = ReaderFactory(role=User.Role.GUEST)
    shared = ShareFactory(user=guest, permission="edit").document
    DocumentFactory()
    response = client_for(guest).get(DOCUMENTS_URL)
    assert ids(response) == [str(shared.pk)]
    assert response.json()["results"][0]["access"] == "view"


def test_list_filters_by_status(client_for):
    reader = ReaderFactory()
    failed = DocumentFactory(owner=reader, status="failed", failure_reason="The PDF is encrypted.")
    DocumentFactory(owner=reader, status="completed")
    DocumentFactory(owner=reader, status="queued")
    response = client_for(reader).get(DOCUMENTS_URL, {"status": "failed"})
    assert ids(response) == [str(failed.pk)]
    assert response.json()["results"][0]["failure_reason"] == "The PDF is encrypted."


def test_list_refuses_an_unknown_status(client_for):
    response = client_for(ReaderFactory()).get(DOCUMENTS_URL, {"status": "lost"})
    error = assert_error(response, 400, "validation_error")
    assert "status" in error["details"]


def test_list_searches_titles_and_file_names(client_for):
    reader = ReaderFactory()
    by_title = DocumentFactory(owner=reader, title="The Bondage of the Will")
    by_name = DocumentFactory(owner=reader, title="Untitled", original_filename="luther-bondage.pdf")
    DocumentFactory(owner=reader, title="On the Freedom of a Christian")
    DocumentFactory(title="Bondage, but not yours")
    response = client_for(reader).get(DOCUMENTS_URL, {"q": "BONDAGE"})
    assert set(ids(response)) == {str(by_title.pk), str(by_name.pk)}


def test_list_needs_authentication(client_for):
    assert_error(client_for(None).get(DOCUMENTS_URL), 401, "not_authenticated")


def test_list_query_count_does_not_grow_with_documents(client_for, django_assert_max_num_queries):
    reader = ReaderFactory()
    DocumentFactory(owner=reader)
    ShareFactory(user=reader, permission="view")
    client = client_for(reader)
    with CaptureQueriesContext(connection) as few:
        assert client.get(DOCUMENTS_URL).json()["count"] == 2

    for _ in range(6):
        DocumentFactory(owner=reader)
        ShareFactory(user=reader, permission="edit")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(DOCUMENTS_URL)
    assert response.json()["count"] == 14


# --- detail and rename ------------------------------------------------------------------


def test_detail_shows_status_progress_and_failure(client_for):
    document = DocumentFactory(
        status="failed",
        stage="extract",
        progress=2,
        failure_reason="This PDF has no text layer (a scan?); Theo cannot read it.",
    )
    response = client_for(document.owner).get(document_url(document))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(document.pk)
    assert body["status"] == "failed"
    assert body["stage"] == "extract"
    assert body["failure_reason"].startswith("This PDF has no text layer")
    assert body["file_url"] == document_url(document, "file/")
    assert body["access"] == "owner"


def test_rename_changes_the_title_everywhere_and_is_audited(client_for):
    document = CompletedDocumentFactory(title="Draft")
    other = DocumentPassageFactory(title="Another book")
    for page in (1, 2):
        DocumentPassageFactory(document=document, page_start=page)

    response = client_for(document.owner).patch(
        document_url(document), {"title": "  The   Freedom of a Christian "}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "The Freedom of a Christian"
    document.refresh_from_db()
    assert document.title == "The Freedom of a Christian"
    titles = set(Passage.objects.filter(source_id=document.pk).values_list("title", flat=True))
    assert titles == {"The Freedom of a Christian"}
    other.refresh_from_db()
    assert other.title == "Another book"
    event = AuditEvent.objects.get(action="document.update", target_id=str(document.pk))
    assert event.data == {"title": {"from": "Draft", "to": "The Freedom of a Christian"}}


def test_status_owner_and_file_fields_cannot_be_written(client_for):
    document = DocumentFactory(title="Queued", status="queued")
    intruder = ReaderFactory()
    response = client_for(document.owner).patch(
        document_url(document),
        {"status": "completed", "progress": 100, "owner": {"id": str(intruder.pk)}, "file_type": "pdf"},
        format="json",
    )
    assert response.status_code == 200
    owner_id = document.owner_id
    document.refresh_from_db()
    assert (document.status, document.progress, document.file_type) == ("queued", 0, "text")
    assert document.owner_id == owner_id
    assert_error(client_for(intruder).get(document_url(document)), 404, "not_found")


def test_an_edit_sharee_may_rename(client_for):
    share = ShareFactory(permission="edit")
    response = client_for(share.user).patch(document_url(share.document), {"title": "Shared title"}, format="json")
    assert response.status_code == 200
    assert Document.objects.get(pk=share.document.pk).title == "Shared title"


def test_a_blank_title_is_refused(client_for):
    document = DocumentFactory(title="Keep me")
    response = client_for(document.owner).patch(document_url(document), {"title": "   "}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert "title" in error["details"]
    assert Document.objects.get(pk=document.pk).title == "Keep me"


def test_document_type_can_change_but_only_to_a_known_one(client_for):
    document = DocumentFactory(document_type="theological")
    client = client_for(document.owner)
    assert client.patch(document_url(document), {"document_type": "biblical"}, format="json").json()[
        "document_type"
    ] == ("biblical")
    assert_error(
        client.patch(document_url(document), {"document_type": "fiction"}, format="json"), 400, "validation_error"
    )
    assert Document.objects.get(pk=document.pk).document_type == "biblical"


# --- delete -------------------------------------------------------------------------------


def test_delete_removes_the_file_passages_notes_shares_and_row(client_for, django_capture_on_commit_callbacks):
    document = CompletedDocumentFactory(title="To be deleted")
    DocumentPassageFactory(document=document)
    DocumentPassageFactory(document=document)
    NoteFactory(document=document)
    share = ShareFactory(document=document)
    survivor = DocumentPassageFactory()
    path = storage.path_for(document)
    assert path.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(document.owner).delete(document_url(document))

    assert response.status_code == 204
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Passage.objects.filter(source_id=document.pk).exists()
    assert not DocumentNote.objects.filter(document_id=document.pk).exists()
    assert not DocumentAccess.objects.filter(pk=share.pk).exists()
    assert not path.exists()
    assert Passage.objects.filter(pk=survivor.pk).exists()
    event = AuditEvent.objects.get(action="document.delete", target_id=str(document.pk))
    assert event.actor == document.owner
    assert event.data["title"] == "To be deleted"
    assert_error(client_for(document.owner).get(document_url(document)), 404, "not_found")
    assert_error(client_for(share.user).get(document_url(document)), 404, "not_found")


def test_staff_cannot_delete_someone_elses_document_through_the_api(client_for):
    document = DocumentFactory()
    staff = ReaderFactory(role=User.Role.ADMIN)
    assert_error(client_for(staff).delete(document_url(document)), 404, "not_found")
    assert Document.objects.filter(pk=document.pk).exists()


# --- reprocess ----------------------------------------------------------------------------


def test_reprocess_queues_the_document_again(client_for, monkeypatch, django_capture_on_commit_callbacks):
    queued: list[str] = []
    monkeypatch.setattr(ingest_document_task, "delay", lambda document_id: queued.append(document_id))
    document = DocumentFactory(
        status="failed", stage="extract", progress=2, failure_reason="The file could not be read.", attempts=3
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(document.owner).post(document_url(document, "reprocess/"))

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["stage"] == "queued"
    assert body["progress"] == 0
    assert body["failure_reason"] == ""
    document.refresh_from_db()
    assert document.status == "queued"
    assert document.attempts == 0
    assert queued == [str(document.pk)]
    assert AuditEvent.objects.filter(action="document.reprocess", target_id=str(document.pk)).exists()


def test_reprocess_while_processing_is_409(client_for):
    document = DocumentFactory(status="processing", stage="embed", progress=40)
    response = client_for(document.owner).post(document_url(document, "reprocess/"))
    assert_error(response, 409, "in_progress")
    document.refresh_from_db()
    assert (document.status, document.stage, document.progress) == ("processing", "embed", 40)


def test_reprocess_of_a_document_stuck_in_processing_is_allowed(client_for, settings):
    document = DocumentFactory(status="processing", stage="embed", progress=40)
    long_ago = timezone.now() - timedelta(minutes=settings.INGEST_STUCK_MINUTES + 5)
    Document.objects.filter(pk=document.pk).update(updated_at=long_ago)
    response = client_for(document.owner).post(document_url(document, "reprocess/"))
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"


# --- passages -----------------------------------------------------------------------------


def test_passages_list_page_spans_and_references_in_order(client_for):
    document = CompletedDocumentFactory()
    third = DocumentPassageFactory(document=document, chunk_index=2, page_start=3, page_end=3)
    first = DocumentPassageFactory(
        document=document,
        chunk_index=0,
        page_start=1,
        page_end=2,
        scripture_references=["Romans 8:28-30"],
        verse_ids=[45008028, 45008029, 45008030],
    )
    second = DocumentPassageFactory(document=document, chunk_index=1, page_start=2, page_end=3)
    DocumentPassageFactory(text="From another document")

    response = client_for(document.owner).get(document_url(document, "passages/"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [str(first.pk), str(second.pk), str(third.pk)]
    row = body["results"][0]
    assert (row["page_start"], row["page_end"]) == (1, 2)
    assert row["scripture_references"] == ["Romans 8:28-30"]
    assert row["text"] == first.text
    assert "From another document" not in response.content.decode()

    paged = client_for(document.owner).get(document_url(document, "passages/"), {"page_size": 2}).json()
    assert len(paged["results"]) == 2 and paged["next"]
