"""The server-rendered surfaces of documents: the library and document pages readers use
(session login), and the Django admin staff use to watch ingestion and reprocess."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.core.models import AuditEvent
from apps.documents.models import Document
from apps.documents.tasks import ingest_document_task
from apps.users.models import User
from tests.documents.factories import (
    CompletedDocumentFactory,
    DocumentFactory,
    DocumentPassageFactory,
    NoteFactory,
    ReaderFactory,
    ShareFactory,
)

pytestmark = pytest.mark.django_db

LIBRARY = "/documents/"
CHANGELIST = "/admin/documents/document/"
XSS = "<script>alert(1)</script>"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_of(document: Document) -> str:
    return f"/documents/{document.pk}/"


def text(response: Any) -> str:
    return response.content.decode()


# --- the library page ---------------------------------------------------------------------


def test_the_library_lists_documents_with_status_badges_and_the_upload_form():
    reader = ReaderFactory()
    DocumentFactory(owner=reader, title="Institutes", status="completed", stage="done", progress=100)
    DocumentFactory(owner=reader, title="Confessions", status="processing", stage="embed", progress=40)
    DocumentFactory(owner=reader, title="Broken scan", status="failed", failure_reason="This PDF has no text layer.")
    DocumentFactory(title="Not mine")

    response = signed_in(reader).get(LIBRARY)

    assert response.status_code == 200
    page = text(response)
    assert 'id="upload-form"' in page
    assert 'class="status status-completed"' in page and ">Completed<" in page
    assert "Processing · 40%" in page
    assert 'class="status status-failed"' in page
    assert "This PDF has no text layer." in page
    assert "Institutes" in page and "Confessions" in page
    assert "Not mine" not in page


def test_an_empty_library_invites_an_upload():
    page = text(signed_in(ReaderFactory()).get(LIBRARY))
    assert "Your library is empty" in page
    assert 'id="upload-form"' in page


def test_guests_see_what_is_shared_with_them_and_no_upload_form():
    guest = ReaderFactory(role=User.Role.GUEST)
    assert "Nothing shared with you yet" in text(signed_in(guest).get(LIBRARY))

    shared = ShareFactory(user=guest, permission="edit", document__title="Shared commentary").document
    page = text(signed_in(guest).get(LIBRARY))

    assert "Shared commentary" in page
    assert shared.owner.display_name in page
    assert 'id="upload-form"' not in page
    assert 'type="file"' not in page


def test_the_library_names_what_each_share_allows():
    reader = ReaderFactory()
    ShareFactory(user=reader, permission="edit", document__title="Editable commentary")
    ShareFactory(user=reader, permission="view", document__title="Readable commentary")
    guest = ReaderFactory(role=User.Role.GUEST)
    ShareFactory(user=guest, permission="edit", document__title="Guest commentary")

    page = text(signed_in(reader).get(LIBRARY))
    assert '<span class="badge">edit</span>' in page
    assert '<span class="badge">view</span>' in page
    guest_page = text(signed_in(guest).get(LIBRARY))
    assert '<span class="badge">view</span>' in guest_page  # guests: at most view
    assert '<span class="badge">edit</span>' not in guest_page


def test_the_library_filters_by_status_and_title():
    reader = ReaderFactory()
    DocumentFactory(owner=reader, title="Finished work", status="completed")
    DocumentFactory(owner=reader, title="Waiting work", status="queued")
    client = signed_in(reader)
    by_status = text(client.get(LIBRARY, {"status": "completed"}))
    assert "Finished work" in by_status and "Waiting work" not in by_status
    by_title = text(client.get(LIBRARY, {"q": "waiting"}))
    assert "Waiting work" in by_title and "Finished work" not in by_title
    assert "No documents match" in text(client.get(LIBRARY, {"q": "nothing like this"}))


def test_the_library_needs_a_signed_in_user():
    response = Client().get(LIBRARY)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_library_query_count_does_not_grow_with_documents(django_assert_max_num_queries):
    reader = ReaderFactory()
    DocumentFactory(owner=reader)
    ShareFactory(user=reader)
    client = signed_in(reader)
    with CaptureQueriesContext(connection) as few:
        assert client.get(LIBRARY).status_code == 200
    for _ in range(5):
        DocumentFactory(owner=reader)
        ShareFactory(user=reader, permission="edit")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(LIBRARY).status_code == 200


# --- the document page --------------------------------------------------------------------


@pytest.fixture
def studied() -> Document:
    document = CompletedDocumentFactory(title="Commentary on Romans", page_count=3)
    DocumentPassageFactory(
        document=document,
        chunk_index=0,
        page_start=1,
        page_end=2,
        text="All things work together for good.",
        scripture_references=["Romans 8:28-30"],
    )
    DocumentPassageFactory(document=document, chunk_index=1, page_start=3, page_end=3, text="Love is patient.")
    NoteFactory(document=document, body="Compare Augustine.", page=2, verse_reference="Romans 8:28")
    return document


def test_the_document_page_shows_passages_references_notes_and_sharing_to_the_owner(studied):
    viewer = ShareFactory(document=studied, permission="view").user

    response = signed_in(studied.owner).get(page_of(studied))

    assert response.status_code == 200
    page = text(response)
    assert "Commentary on Romans" in page
    assert '<span class="locator" title="Page 1 of the file">pp. 1–2</span>' in page
    assert '<span class="locator" title="Page 3 of the file">p. 3</span>' in page
    assert '<span class="chip ref">Romans 8:28-30</span>' in page  # the passage's reference
    assert "All things work together for good." in page
    assert "Compare Augustine." in page
    assert '<span class="chip ref">Romans 8:28</span>' in page  # the note's verse
    assert 'id="shares"' in page and viewer.email in page
    assert 'id="delete"' in page and 'id="rename"' in page and 'id="note-form"' in page


def test_a_view_sharee_reads_the_page_without_owner_or_editor_controls(studied):
    viewer = ShareFactory(document=studied, permission="view").user
    response = signed_in(viewer).get(page_of(studied))
    assert response.status_code == 200
    page = text(response)
    assert "All things work together for good." in page
    assert "Compare Augustine." in page
    assert 'id="shares"' not in page
    assert 'id="delete"' not in page
    assert 'id="rename"' not in page
    assert 'id="note-form"' not in page


def test_an_edit_sharee_may_annotate_but_not_share(studied):
    editor = ShareFactory(document=studied, permission="edit").user
    page = text(signed_in(editor).get(page_of(studied)))
    assert 'id="note-form"' in page and 'id="rename"' in page
    assert 'id="shares"' not in page and 'id="delete"' not in page


def test_staff_do_not_see_someone_elses_document_page(studied):
    """Staff moderate documents in the admin console; the reader's page stays its owner's."""
    staff = ReaderFactory(role=User.Role.ADMIN)
    assert signed_in(staff).get(page_of(studied)).status_code == 404
    assert signed_in(staff).get(f"/admin/documents/document/{studied.pk}/change/").status_code == 200


@pytest.mark.parametrize("role", [User.Role.USER, User.Role.GUEST, User.Role.POWER])
def test_anyone_else_gets_the_not_found_page(studied, role):
    response = signed_in(ReaderFactory(role=role)).get(page_of(studied))
    assert response.status_code == 404
    page = text(response)
    assert "Page not found" in page
    assert "Commentary on Romans" not in page
    assert "All things work together" not in page


def test_user_text_is_escaped_on_the_pages():
    owner = ReaderFactory(display_name=f"Mallory {XSS}")
    document = CompletedDocumentFactory(owner=owner, title=XSS, original_filename=f"{XSS}.txt")
    DocumentPassageFactory(document=document, text=f"Passage {XSS}")
    NoteFactory(document=document, body=f"Note {XSS}")
    sharee = ShareFactory(document=document, permission="view").user

    for client in (signed_in(owner), signed_in(sharee)):
        for url in (LIBRARY, page_of(document)):
            page = text(client.get(url))
            assert XSS not in page, url
            assert html.escape(XSS) in page, url


# --- the admin ----------------------------------------------------------------------------


@pytest.fixture
def console() -> Client:
    return signed_in(ReaderFactory(role=User.Role.ADMIN))


def run_action(client: Client, action: str, documents: list[Document]) -> Any:
    return client.post(CHANGELIST, {"action": action, "_selected_action": [str(d.pk) for d in documents]}, follow=True)


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_admin_list_shows_status_stage_and_owner(console):
    owner = ReaderFactory(display_name="Lydia of Thyatira")
    DocumentFactory(owner=owner, title="Admin-visible sermon", status="processing", stage="embed", progress=40)

    response = console.get(CHANGELIST, {"q": "Admin-visible"})

    assert response.status_code == 200
    page = text(response)
    for column in ("column-status", "column-stage", "column-owner"):
        assert column in page
    assert "Admin-visible sermon" in page
    assert "Processing" in page
    assert "Embedding passages" in page
    assert owner.email in page or owner.display_name in page
    assert "Reprocess selected documents" in page


def test_the_admin_list_shows_why_a_document_failed(console):
    DocumentFactory(
        title="Failed scan adminlist",
        status="failed",
        stage="extract",
        failure_reason="This PDF has no text layer (it looks scanned).",
    )
    page = text(console.get(CHANGELIST, {"q": "adminlist"}))
    assert "This PDF has no text layer (it looks scanned)." in page


def test_the_admin_list_filters_by_status(console):
    DocumentFactory(title="Queued one adminfilter", status="queued")
    DocumentFactory(title="Failed one adminfilter", status="failed")
    response = console.get(CHANGELIST, {"status__exact": "failed", "q": "adminfilter"})
    page = text(response)
    assert "Failed one adminfilter" in page
    assert "Queued one adminfilter" not in page


def test_the_reprocess_action_queues_documents(console, monkeypatch, django_capture_on_commit_callbacks):
    queued: list[str] = []
    monkeypatch.setattr(ingest_document_task, "delay", lambda document_id: queued.append(document_id))
    failed = DocumentFactory(status="failed", stage="extract", failure_reason="Corrupt file.")
    done = CompletedDocumentFactory()
    busy = DocumentFactory(title="Busy right now", status="processing", stage="embed", progress=50)

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(console, "reprocess", [failed, done, busy])

    assert response.status_code == 200
    for document in (failed, done):
        document.refresh_from_db()
        assert document.status == "queued"
        assert document.failure_reason == ""
        assert AuditEvent.objects.filter(action="document.reprocess", target_id=str(document.pk)).exists()
    busy.refresh_from_db()
    assert busy.status == "processing"
    assert sorted(queued) == sorted([str(failed.pk), str(done.pk)])
    messages = " ".join(messages_of(response))
    assert "2 document(s) queued" in messages
    assert "Busy right now" in messages


def test_the_admin_is_for_staff_only():
    response = signed_in(ReaderFactory()).get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
