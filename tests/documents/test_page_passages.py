"""A printed book through the whole pipeline: passages carry their printed page and section,
running heads reach neither their text nor the search, the API and pages show both, and a
document stored before these fields gets them when it is reprocessed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from apps.documents import pipeline
from apps.index.embeddings import embed_texts
from apps.index.models import Passage
from apps.index.reembed import passages_embed_stale
from tests.documents import files

pytestmark = pytest.mark.django_db
HEAD = "ANNOTATIONS UPON RUTH BY A COUNTRY MINISTER"


def book() -> bytes:
    """One page of front matter (label "i"), then chapters whose pages are labelled from 1."""
    return files.book_pdf_bytes(
        [
            [("h1", "Preface"), ("p", "This little book was written for plain readers in a country parish.")],
            [("h1", "Chapter 1. The Famine"), ("p", "Elimelech went to sojourn in the fields of Moab with his wife.")],
            [("p", "Mahlon and Chilion took them wives of the women of Moab, Orpah and Ruth.")],
            [("h1", "Chapter 2. The Gleaning"), ("p", "Ruth gleaned in the field after the reapers of Boaz.")],
        ],
        running_head=HEAD,
        front_matter=1,
    )


def passages_of(document_id: Any) -> list[Passage]:
    return list(
        Passage.objects.filter(source_kind=Passage.SourceKind.DOCUMENT, source_id=document_id).order_by("chunk_index")
    )


def located(document_id: Any) -> list[tuple[int | None, str, str]]:
    return [(p.page_start, p.page_label, p.section) for p in passages_of(document_id)]


EXPECTED = [
    (1, "i", "Preface"),
    (2, "1", "Chapter 1. The Famine"),  # runs on over page 2 ("1") and 3 ("2")
    (4, "3", "Chapter 2. The Gleaning"),
]


def test_passages_carry_printed_page_and_section_and_no_running_head(upload: Any, client_for: Any, user: Any) -> None:
    document_id = upload("ruth.pdf", book())
    pipeline.run(document_id=document_id)

    assert located(document_id) == EXPECTED
    passages = passages_of(document_id)
    assert passages[1].page_end == 3 and passages[1].printed_pages == "pp. 1–2"
    assert not any("ANNOTATIONS" in p.text or "COUNTRY MINISTER" in p.text for p in passages)
    client = client_for(user)
    found = client.get("/api/v1/search/", {"q": "annotations", "scope": "documents"}).json()["results"]
    assert not any("text" in result["matched_by"] for result in found)  # not in the search vector

    hit = client.get("/api/v1/search/", {"q": "Orpah Mahlon Chilion", "scope": "documents"}).json()["results"][0]
    assert (hit["page_start"], hit["page_label"], hit["section"]) == (2, "1", "Chapter 1. The Famine")
    listed = client.get(f"/api/v1/documents/{document_id}/passages/").json()["results"]
    assert [(r["page_start"], r["page_label"], r["section"]) for r in listed] == EXPECTED


def test_the_pages_show_the_printed_page_and_section(upload: Any, client_for: Any, user: Any, client: Any) -> None:
    document_id = upload("ruth.pdf", book())
    pipeline.run(document_id=document_id)
    client.force_login(user)

    detail = client.get(f"/documents/{document_id}/").content.decode()
    assert '<span class="locator" title="Page 1 of the file">p. i</span>' in detail
    assert '<span class="locator" title="Page 2 of the file">pp. 1–2</span>' in detail
    assert "Chapter 2. The Gleaning</span>" in detail
    search = client.get("/search/", {"q": "Orpah Mahlon Chilion", "scope": "documents"}).content.decode()
    assert 'title="Page 2 of the file">pp. 1–2</span>' in search
    assert '<span class="muted small section">Chapter 1. The Famine</span>' in search


def test_a_document_stored_before_page_labels_gets_them_when_reprocessed(
    upload: Any, client_for: Any, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    document_id = upload("ruth.pdf", book())
    pipeline.run(document_id=document_id)
    # As the migration left an older document: its page number as label, no section, a running head inside.
    for passage in passages_of(document_id):
        passage.page_label, passage.section, passage.text = str(passage.page_start), "", f"{HEAD} {passage.text}"
        passage.save(update_fields=["page_label", "section", "text"])

    with django_capture_on_commit_callbacks(execute=False):
        response = client_for(user).post(f"/api/v1/documents/{document_id}/reprocess/")
    assert response.status_code == 202, response.content
    pipeline.run(document_id=document_id)

    assert located(document_id) == EXPECTED
    assert not any(HEAD in p.text for p in passages_of(document_id))


def test_a_passage_is_embedded_under_its_section_and_re_embedded_the_same_way(upload: Any) -> None:
    document_id = upload("ruth.pdf", book())
    pipeline.run(document_id=document_id)
    gleaning = passages_of(document_id)[2]
    expected = embed_texts([f"Chapter 2. The Gleaning\n{gleaning.text}"])[0]
    assert np.allclose(gleaning.embedding, expected, atol=1e-5)

    Passage.objects.filter(pk=gleaning.pk).update(embedding=None, embedding_model="")  # as after a model change
    passages_embed_stale(source_kind=Passage.SourceKind.DOCUMENT)

    gleaning.refresh_from_db()
    assert np.allclose(gleaning.embedding, expected, atol=1e-5)
