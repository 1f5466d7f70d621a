"""Notes on a document: anchored to a passage or a page, optionally to a verse (written
the way people write them, stored canonical), listed in order for everyone who reads
the document, written only by those who may edit it."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.models import AuditEvent
from apps.documents.models import Document, DocumentNote
from tests.documents.factories import (
    CompletedDocumentFactory,
    DocumentPassageFactory,
    NoteFactory,
    ReaderFactory,
    ShareFactory,
    document_url,
)
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def document() -> Document:
    return CompletedDocumentFactory(page_count=3)


def notes_url(document: Document) -> str:
    return document_url(document, "notes/")


def post_note(client: Any, document: Document, **payload: Any) -> Any:
    return client.post(notes_url(document), payload, format="json")


# --- writing ------------------------------------------------------------------------------


def test_a_note_is_created_with_its_author(client_for, document):
    response = post_note(client_for(document.owner), document, body="  The golden chain holds.  ")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["body"] == "The golden chain holds."
    assert body["document_id"] == str(document.pk)
    assert body["page"] is None
    assert body["passage_id"] is None
    assert body["verse_reference"] == ""
    assert body["author"] == {"id": str(document.owner.pk), "display_name": document.owner.display_name}
    note = DocumentNote.objects.get(pk=body["id"])
    assert note.document == document
    assert AuditEvent.objects.filter(action="document.note", target_id=str(document.pk)).exists()


def test_an_edit_sharee_writes_notes_under_their_own_name(client_for, document):
    editor = ShareFactory(document=document, permission="edit").user
    response = post_note(client_for(editor), document, body="Compare Luther's lectures.", page=2)
    assert response.status_code == 201, response.content
    assert response.json()["author"]["id"] == str(editor.pk)
    assert response.json()["page"] == 2


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("rom 8:28", "Romans 8:28"),
        ("Rom. 8:28-30", "Romans 8:28-30"),
        ("1 cor 13:4-7", "1 Corinthians 13:4-7"),
        ("Mt 5:3", "Matthew 5:3"),
        ("John 3:16; Rom 8:28", "John 3:16; Romans 8:28"),
    ],
)
def test_the_verse_reference_is_stored_canonical(client_for, document, written, canonical):
    response = post_note(client_for(document.owner), document, body="On this verse.", verse_reference=written)
    assert response.status_code == 201, response.content
    assert response.json()["verse_reference"] == canonical
    assert DocumentNote.objects.get(pk=response.json()["id"]).verse_reference == canonical


@pytest.mark.parametrize(
    ("written", "named"),
    [("Hezekiah 4:5", "Hezekiah 4:5"), ("not a verse", "not a verse"), ("Romans 8:28 and potatoes", "potatoes")],
)
def test_a_reference_that_cannot_be_understood_is_400_naming_it(client_for, document, written, named):
    response = post_note(client_for(document.owner), document, body="On this verse.", verse_reference=written)
    error = assert_error(response, 400, "validation_error")
    assert named in " ".join(error["details"]["verse_reference"])
    assert not DocumentNote.objects.filter(document=document).exists()


def test_many_references_are_kept_whole(client_for, document):
    """Eight references fit the field people type into (200 characters), but spelled out
    they are longer: a note must never be saved with a reference cut in half."""
    written = "Gen 1:1; Exod 3:14; Lev 19:18; Deut 6:4; Josh 1:9; Judg 6:12; Ruth 1:16; 1 Sam 16:7"
    canonical = (
        "Genesis 1:1; Exodus 3:14; Leviticus 19:18; Deuteronomy 6:4; Joshua 1:9; Judges 6:12; Ruth 1:16; 1 Samuel 16:7"
    )
    response = post_note(client_for(document.owner), document, body="The law and the story.", verse_reference=written)
    if response.status_code == 201:
        assert response.json()["verse_reference"] == canonical
    else:  # or refused, saying why
        error = assert_error(response, 400, "validation_error")
        assert "verse_reference" in error["details"]


def test_a_page_beyond_the_document_is_400(client_for, document):
    response = post_note(client_for(document.owner), document, body="Where is this?", page=4)
    error = assert_error(response, 400, "validation_error")
    assert error["details"]["page"] == ["Pages run from 1 to 3."]


@pytest.mark.parametrize("page", [0, -1])
def test_pages_start_at_one(client_for, document, page):
    response = post_note(client_for(document.owner), document, body="Where is this?", page=page)
    error = assert_error(response, 400, "validation_error")
    assert "page" in error["details"]


def test_the_last_page_is_fine(client_for, document):
    response = post_note(client_for(document.owner), document, body="Conclusion.", page=3)
    assert response.status_code == 201
    assert response.json()["page"] == 3


def test_a_note_on_a_passage_takes_the_passages_page(client_for, document):
    passage = DocumentPassageFactory(document=document, page_start=2, page_end=3)
    response = post_note(client_for(document.owner), document, body="This paragraph!", passage_id=str(passage.pk))
    assert response.status_code == 201, response.content
    assert response.json()["passage_id"] == str(passage.pk)
    assert response.json()["page"] == 2


def test_a_passage_of_another_document_is_400(client_for, document):
    elsewhere = DocumentPassageFactory()  # another owner's document
    response = post_note(client_for(document.owner), document, body="Sneaky.", passage_id=str(elsewhere.pk))
    error = assert_error(response, 400, "validation_error")
    assert "passage_id" in error["details"]
    assert elsewhere.text not in response.content.decode()


def test_an_unknown_passage_is_400(client_for, document):
    response = post_note(
        client_for(document.owner), document, body="Hm.", passage_id="00000000-0000-4000-8000-000000000000"
    )
    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize("body", ["", "   \n  ", "x" * 10001], ids=["empty", "blank", "too-long"])
def test_the_body_must_say_something_and_not_too_much(client_for, document, body):
    response = post_note(client_for(document.owner), document, body=body)
    error = assert_error(response, 400, "validation_error")
    assert "body" in error["details"]


def test_a_view_sharee_cannot_write_notes(client_for, document):
    viewer = ShareFactory(document=document, permission="view").user
    assert_error(post_note(client_for(viewer), document, body="Let me in."), 403, "permission_denied")
    assert not DocumentNote.objects.filter(document=document).exists()


# --- reading ------------------------------------------------------------------------------


def test_notes_are_listed_oldest_first_and_paginated_for_every_reader(client_for, document):
    editor = ShareFactory(document=document, permission="edit").user
    viewer = ShareFactory(document=document, permission="view").user
    first = NoteFactory(document=document, body="First thought", page=1, verse_reference="Romans 8:28")
    second = NoteFactory(document=document, author=editor, body="Second thought")
    NoteFactory(body="A note on some other document")

    response = client_for(viewer).get(notes_url(document))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [str(first.pk), str(second.pk)]
    assert body["results"][0]["verse_reference"] == "Romans 8:28"
    assert body["results"][0]["page"] == 1
    assert body["results"][1]["author"]["display_name"] == editor.display_name
    assert "some other document" not in response.content.decode()

    paged = client_for(document.owner).get(notes_url(document), {"page_size": 1}).json()
    assert len(paged["results"]) == 1 and paged["next"]


def test_a_note_whose_author_left_still_lists(client_for, document):
    leaver = ReaderFactory()
    NoteFactory(document=document, author=leaver, body="Written before leaving")
    leaver.delete()
    response = client_for(document.owner).get(notes_url(document))
    assert response.status_code == 200
    assert response.json()["results"][0]["author"] is None
    assert response.json()["results"][0]["body"] == "Written before leaving"


def test_the_note_event_carries_exactly_the_api_note_object(document):
    """services broadcast realtime.note_payload(note); the API answers NoteSerializer: one wire format."""
    from apps.documents import realtime
    from apps.documents.serializers import NoteSerializer

    passage = DocumentPassageFactory(document=document, page_start=2)
    anchored = NoteFactory(document=document, passage=passage, page=2, verse_reference="Romans 8:28")
    loose = NoteFactory(document=document, author=None)
    for note in (anchored, loose, DocumentNote.objects.get(pk=anchored.pk)):
        assert realtime.note_payload(note) == NoteSerializer(note).data
