"""The ingestion pipeline on real files, run in-process: pages, passages, embeddings,
references, themes, idempotency, failures, deletion mid-run, and the stuck-document job."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.db import OperationalError
from django.utils import timezone

from apps.documents import pipeline, services, storage
from apps.documents.models import Document
from apps.index.models import EMBEDDING_DIMENSIONS, Passage
from tests.documents import files

pytestmark = pytest.mark.django_db

STAGES = ["extract", "chunk", "embed", "index", "references", "themes"]
UNEXPECTED = "An unexpected error stopped processing. It has been logged; try reprocessing."


@pytest.fixture
def small_chunks(settings: Any) -> None:
    """Passages shorter than a page, so their page spans say where each marker is."""
    settings.CHUNK_WORDS = 10
    settings.CHUNK_OVERLAP_WORDS = 2


def passages_of(document_id: Any) -> Any:
    return Passage.objects.filter(source_kind=Passage.SourceKind.DOCUMENT, source_id=document_id).order_by(
        "chunk_index"
    )


def markers_in(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"marker-(\d+)\b", text)}


# A word found only on one page of the sample files (files.page_text(1..3)).
WORD_ON_PAGE = {"golden": 1, "Beatitudes;": 2, "Augustine": 3}


def pages_named_in(text: str) -> set[int]:
    """The pages `text` must come from, judging by its markers and distinctive words."""
    words = set(text.split())
    return markers_in(text) | {page for word, page in WORD_ON_PAGE.items() if word in words}


# name, bytes, sniffed type, pages in the document (3 sections each; HTML and Markdown
# have no pages of their own and are short enough for one page).
FILE_TYPES = [
    pytest.param("book.pdf", lambda: files.pdf_bytes(3), "pdf", 3, id="pdf"),
    pytest.param("book.docx", lambda: files.docx_bytes(3), "docx", 3, id="docx"),
    pytest.param("book.txt", lambda: files.text_bytes(3), "text", 3, id="text"),
    pytest.param("sermon.html", lambda: files.html_bytes(3), "html", 1, id="html"),
    pytest.param("notes.md", lambda: files.markdown_bytes(3), "markdown", 1, id="markdown"),
]


# --- each file type, end to end ----------------------------------------------------------


@pytest.mark.parametrize(("name", "make", "file_type", "page_count"), FILE_TYPES)
def test_each_file_type_is_read_into_located_passages(upload, user, small_chunks, name, make, file_type, page_count):
    document_id = upload(name, make(), title="Romans and the Sermon")

    pipeline.run(document_id=document_id)

    document = Document.objects.get(pk=document_id)
    assert document.status == "completed", document.failure_reason
    assert document.file_type == file_type
    assert document.stage == "done" and document.progress == 100
    assert document.failure_reason == ""
    assert document.page_count == page_count
    passages = list(passages_of(document_id))
    assert len(passages) > 1
    assert document.passage_count == len(passages)
    assert [p.chunk_index for p in passages] == list(range(len(passages)))
    assert min(p.page_start for p in passages) == 1
    assert max(p.page_end for p in passages) == page_count
    for passage in passages:
        assert passage.title == "Romans and the Sermon"
        assert passage.owner_id == user.pk
        assert passage.visibility == Passage.Visibility.PRIVATE
        assert 1 <= passage.page_start <= passage.page_end <= page_count
        if page_count > 1:  # the page its words come from lies inside its span
            for page in pages_named_in(passage.text):
                assert passage.page_start <= page <= passage.page_end, (
                    f"text of page {page} located on pages {passage.page_start}-{passage.page_end}: {passage.text}"
                )
    every_marker = set().union(*(markers_in(p.text) for p in passages))
    assert every_marker == {1, 2, 3}


@pytest.mark.parametrize(("name", "make", "file_type", "page_count"), FILE_TYPES)
def test_each_file_type_gets_embeddings_references_and_themes(upload, name, make, file_type, page_count):
    document_id = upload(name, make())

    pipeline.run(document_id=document_id)

    document = Document.objects.get(pk=document_id)
    assert document.status == "completed", document.failure_reason
    passages = list(passages_of(document_id))
    for passage in passages:
        vector = np.asarray(passage.embedding)
        assert vector.shape == (EMBEDDING_DIMENSIONS,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-3)
        assert passage.embedding_model == django_settings.EMBEDDING_MODEL_NAME
    citing = [p for p in passages if "Rom 8:28-30" in p.text]
    assert citing
    for passage in citing:
        assert "Romans 8:28-30" in passage.scripture_references
        assert {45008028, 45008029, 45008030} <= set(passage.verse_ids)
    sermon = [p for p in passages if "Matt 5:3-7:29" in p.text]
    for passage in sermon:
        assert "Matthew 5:3-7:29" in passage.scripture_references
        assert 40006009 in passage.verse_ids
    assert all(p.verse_ids == sorted(set(p.verse_ids)) for p in passages)
    assert document.themes
    assert all(isinstance(theme, str) and theme for theme in document.themes)
    assert [entry["stage"] for entry in document.stage_log] == STAGES
    assert all(entry["message"] and entry["at"] for entry in document.stage_log)


def test_passages_api_lists_locators_and_references(upload, client_for, user, small_chunks):
    document_id = upload("book.pdf", files.pdf_bytes(3))
    pipeline.run(document_id=document_id)

    response = client_for(user).get(f"/api/v1/documents/{document_id}/passages/?page_size=100")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == passages_of(document_id).count()
    results = body["results"]
    assert [r["chunk_index"] for r in results] == list(range(len(results)))
    for result in results:
        assert {"id", "page_start", "page_end", "text", "scripture_references"} <= set(result)
        assert 1 <= result["page_start"] <= result["page_end"] <= 3
    citing = [r for r in results if "Rom 8:28-30" in r["text"]]
    assert citing and all("Romans 8:28-30" in r["scripture_references"] for r in citing)
    assert "X-Request-ID" in response


def test_document_api_shows_the_finished_document(upload, client_for, user):
    document_id = upload("book.txt", files.text_bytes(3))
    pipeline.run(document_id=document_id)

    body = client_for(user).get(f"/api/v1/documents/{document_id}/").json()

    assert body["status"] == "completed"
    assert body["stage"] == "done"
    assert body["progress"] == 100
    assert body["page_count"] == 3
    assert body["passage_count"] == passages_of(document_id).count()
    assert body["themes"]
    assert body["progress_message"].startswith(f"Ready: {body['passage_count']} passages")


# --- idempotency and reprocessing ---------------------------------------------------------


def test_running_twice_changes_and_duplicates_nothing(upload):
    document_id = upload("book.pdf", files.pdf_bytes(3))
    pipeline.run(document_id=document_id)
    first = list(passages_of(document_id).values_list("id", "chunk_index"))

    pipeline.run(document_id=document_id)  # a redelivered task

    assert list(passages_of(document_id).values_list("id", "chunk_index")) == first
    assert Document.objects.get(pk=document_id).status == "completed"


class WorkerKilled(BaseException):
    """Like SIGKILL for the worker: no `except Exception` sees it."""


def test_a_run_killed_mid_document_is_finished_by_the_next_delivery(upload, monkeypatch):
    document_id = upload("book.pdf", files.pdf_bytes(4))

    def killed(document: Document) -> int:
        raise WorkerKilled()

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_index_references", killed)
        with pytest.raises(WorkerKilled):
            pipeline.run(document_id=document_id)
    assert Document.objects.get(pk=document_id).status == "processing"
    written = passages_of(document_id).count()
    assert written > 0

    pipeline.run(document_id=document_id)  # acks_late: the task is delivered again

    document = Document.objects.get(pk=document_id)
    assert document.status == "completed"
    assert document.attempts == 2
    assert [entry["stage"] for entry in document.stage_log] == STAGES  # not logged twice
    indexes = list(passages_of(document_id).values_list("chunk_index", flat=True))
    assert indexes == list(range(written))
    assert document.passage_count == written


def test_reprocess_replaces_passages_atomically_without_duplicates(upload, client_for, user, monkeypatch):
    document_id = upload("book.pdf", files.pdf_bytes(4))
    pipeline.run(document_id=document_id)
    old_ids = set(passages_of(document_id).values_list("id", flat=True))
    old_count = len(old_ids)

    response = client_for(user).post(f"/api/v1/documents/{document_id}/reprocess/")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    assert response.json()["progress"] == 0
    # Until the new passages are written, the old ones stay searchable.
    assert set(passages_of(document_id).values_list("id", flat=True)) == old_ids

    seen_during_embedding: list[set[uuid.UUID]] = []
    real_embed = pipeline._embed

    def watching_embed(document: Document, chunks: list) -> list:
        seen_during_embedding.append(set(passages_of(document_id).values_list("id", flat=True)))
        return real_embed(document, chunks)

    monkeypatch.setattr(pipeline, "_embed", watching_embed)
    pipeline.run(document_id=document_id)

    assert seen_during_embedding == [old_ids]
    new_ids = set(passages_of(document_id).values_list("id", flat=True))
    assert len(new_ids) == old_count
    assert not new_ids & old_ids  # all replaced, none left over
    indexes = list(passages_of(document_id).values_list("chunk_index", flat=True))
    assert indexes == list(range(old_count))
    document = Document.objects.get(pk=document_id)
    assert document.status == "completed"
    assert document.passage_count == old_count
    assert [entry["stage"] for entry in document.stage_log] == STAGES


def test_reprocess_of_a_failed_document_after_the_cause_is_fixed(upload, client_for, user, monkeypatch):
    document_id = upload("book.txt", files.text_bytes(3))

    def broken(texts: list[str]) -> list[str]:
        raise RuntimeError("boom")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "identify_themes", broken)
        pipeline.run(document_id=document_id)
    assert Document.objects.get(pk=document_id).status == "failed"

    assert client_for(user).post(f"/api/v1/documents/{document_id}/reprocess/").status_code == 202
    pipeline.run(document_id=document_id)

    document = Document.objects.get(pk=document_id)
    assert document.status == "completed"
    assert document.failure_reason == ""
    assert document.themes


def test_reprocess_while_processing_is_refused(upload, client_for, user):
    document_id = upload("book.txt", files.text_bytes(2))
    Document.objects.filter(pk=document_id).update(status="processing")

    response = client_for(user).post(f"/api/v1/documents/{document_id}/reprocess/")

    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "in_progress"


# --- bad files and crashes -----------------------------------------------------------------


HOSTILE = [
    pytest.param("locked.pdf", files.encrypted_pdf_bytes, "encrypted", id="encrypted-pdf"),
    pytest.param("broken.pdf", files.corrupt_pdf_bytes, "damaged", id="corrupt-pdf"),
    pytest.param("scan.pdf", files.scanned_pdf_bytes, "OCR", id="scanned-pdf"),
    pytest.param("bomb.docx", files.zip_bomb_docx_bytes, "ZIP bomb", id="zip-bomb-docx"),
    pytest.param(
        "empty.html",
        lambda: b"<!DOCTYPE html><html><head><script>var a = 'xss-marker';</script></head><body> </body></html>",
        "No text",
        id="html-without-text",
    ),
]


@pytest.mark.parametrize(("name", "make", "says"), HOSTILE)
def test_bad_files_fail_with_a_readable_reason_and_no_passages(upload, client_for, user, name, make, says):
    document_id = upload(name, make())

    pipeline.run(document_id=document_id)

    document = Document.objects.get(pk=document_id)
    assert document.status == "failed"
    assert says in document.failure_reason
    assert document.failure_reason.endswith(".")
    assert "Traceback" not in document.failure_reason
    assert not passages_of(document_id).exists()
    assert document.passage_count == 0
    body = client_for(user).get(f"/api/v1/documents/{document_id}/").json()
    assert body["status"] == "failed"
    assert body["failure_reason"] == document.failure_reason
    assert body["progress_message"] == document.failure_reason

    pipeline.run(document_id=document_id)  # a redelivery does not try again, or change anything
    assert Document.objects.get(pk=document_id).failure_reason == document.failure_reason


def test_a_stored_file_gone_missing_fails_readably(upload, settings):
    """E.g. a worker on another machine without the shared data directory (docs/deploy.md)."""
    document_id = upload("book.txt", files.text_bytes(3))
    storage.delete(Document.objects.get(pk=document_id))

    pipeline.run(document_id=document_id)

    document = Document.objects.get(pk=document_id)
    assert document.status == "failed"
    assert "missing" in document.failure_reason.lower(), document.failure_reason
    assert str(settings.DOCUMENTS_DIR) not in document.failure_reason
    assert document_id not in document.failure_reason


def test_an_unexpected_error_in_a_stage_fails_the_document(upload, monkeypatch):
    document_id = upload("book.txt", files.text_bytes(3))

    def crash(texts: list[str]) -> list[str]:
        raise RuntimeError("internal detail the reader must not see")

    monkeypatch.setattr(pipeline, "identify_themes", crash)

    pipeline.run(document_id=document_id)  # does not raise: the task ends, the worker lives

    document = Document.objects.get(pk=document_id)
    assert document.status == "failed"
    assert document.failure_reason == UNEXPECTED
    assert "internal detail" not in document.progress_message
    assert document.stage == "themes"  # where it stopped


def test_a_transient_database_error_propagates_for_a_retry(upload, monkeypatch):
    document_id = upload("book.txt", files.text_bytes(3))

    def database_away(texts: list[str]) -> list[str]:
        raise OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "identify_themes", database_away)
        with pytest.raises(OperationalError):
            pipeline.run(document_id=document_id)

    document = Document.objects.get(pk=document_id)
    assert document.status == "queued"  # waiting for the retry, which is not an interruption
    assert document.attempts == 0
    assert document.failure_reason == ""

    pipeline.run(document_id=document_id)  # the retry

    document = Document.objects.get(pk=document_id)
    assert document.status == "completed"
    assert document.passage_count == passages_of(document_id).count()


def test_ingest_task_retries_transient_errors_and_is_acked_late():
    from apps.documents.tasks import ingest_document_task

    assert ingest_document_task.acks_late is True
    assert ingest_document_task.reject_on_worker_lost is True
    assert OperationalError in ingest_document_task.autoretry_for
    assert ingest_document_task.max_retries >= 3


# --- deletion while processing ---------------------------------------------------------------


def test_document_deleted_while_embedding_stops_quietly(upload, user, monkeypatch):
    document_id = upload("book.pdf", files.pdf_bytes(3))
    real_embed = pipeline._embed

    def delete_then_embed(document: Document, chunks: list) -> list:
        services.document_delete(document=Document.objects.get(pk=document_id), actor=user)
        return real_embed(document, chunks)

    monkeypatch.setattr(pipeline, "_embed", delete_then_embed)

    pipeline.run(document_id=document_id)  # no exception

    assert not Document.objects.filter(pk=document_id).exists()
    assert not passages_of(document_id).exists()


def test_document_deleted_after_its_passages_were_written_leaves_none(upload, user, monkeypatch):
    document_id = upload("book.pdf", files.pdf_bytes(3))
    real_references = pipeline._index_references

    def delete_then_find(document: Document) -> int:
        assert passages_of(document_id).exists()
        services.document_delete(document=Document.objects.get(pk=document_id), actor=user)
        return real_references(document)

    monkeypatch.setattr(pipeline, "_index_references", delete_then_find)

    pipeline.run(document_id=document_id)

    assert not Document.objects.filter(pk=document_id).exists()
    assert not passages_of(document_id).exists()


def test_document_row_gone_before_indexing_writes_no_passages(upload, monkeypatch):
    document_id = upload("book.txt", files.text_bytes(3))
    real_embed = pipeline._embed

    def embed_then_row_vanishes(document: Document, chunks: list) -> list:
        vectors = real_embed(document, chunks)
        Document.objects.filter(pk=document_id).delete()
        return vectors

    monkeypatch.setattr(pipeline, "_embed", embed_then_row_vanishes)

    pipeline.run(document_id=document_id)

    assert not passages_of(document_id).exists()


def test_a_share_changed_while_embedding_applies_to_the_new_passages(upload, user, make_user, monkeypatch):
    """Passages carry who may read them; a share made or removed mid-run must be in force
    on the passages the run writes, or a sharee could not find them (or could after all)."""
    old_reader = make_user()
    new_reader = make_user()
    document_id = upload("book.txt", files.text_bytes(3))
    document = Document.objects.get(pk=document_id)
    services.document_share(document=document, actor=user, email=old_reader.email, permission="view")
    real_embed = pipeline._embed

    def embed_while_sharing_changes(document: Document, chunks: list) -> list:
        current = Document.objects.get(pk=document_id)
        services.document_unshare(document=current, actor=user, email=old_reader.email)
        services.document_share(document=current, actor=user, email=new_reader.email, permission="view")
        return real_embed(document, chunks)

    monkeypatch.setattr(pipeline, "_embed", embed_while_sharing_changes)
    pipeline.run(document_id=document_id)

    shared_with = {tuple(p.shared_with) for p in passages_of(document_id)}
    assert shared_with == {(new_reader.pk,)}


def test_run_for_an_unknown_document_does_nothing():
    pipeline.run(document_id=str(uuid.uuid4()))


def test_deleting_an_account_removes_its_documents_passages_and_files(
    upload, user, admin_user, django_capture_on_commit_callbacks
):
    from apps.users.services import user_delete

    document_id = upload("book.txt", files.text_bytes(3))
    pipeline.run(document_id=document_id)
    stored = storage.path_for(Document.objects.get(pk=document_id))
    assert stored.exists() and passages_of(document_id).exists()

    with django_capture_on_commit_callbacks(execute=True):
        user_delete(user=user, actor=admin_user)

    assert not Document.objects.filter(pk=document_id).exists()
    left_behind = []
    if passages_of(document_id).exists():
        left_behind.append(f"{passages_of(document_id).count()} passages still in the search index")
    if stored.exists():
        left_behind.append("the uploaded file still on disk")
    assert not left_behind, left_behind


# --- documents stuck in processing -------------------------------------------------------------


def make_document(owner: Any, *, status: str, minutes_ago: float, attempts: int = 1) -> Document:
    document = Document.objects.create(
        owner=owner,
        title="Stuck",
        file_type="text",
        original_filename="stuck.txt",
        size_bytes=10,
        sha256=uuid.uuid4().hex * 2,
        status=status,
        stage="embed" if status == "processing" else "queued",
        progress=40 if status == "processing" else 0,
        attempts=attempts,
    )
    Document.objects.filter(pk=document.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes_ago))
    return document


@pytest.fixture
def enqueued(monkeypatch: Any) -> list[str]:
    """Document ids sent to the ingestion queue (recorded instead of sent to the broker)."""
    from apps.documents.tasks import ingest_document_task

    sent: list[str] = []
    monkeypatch.setattr(ingest_document_task, "delay", lambda document_id: sent.append(document_id))
    return sent


def test_documents_stuck_past_the_timeout_are_queued_again(
    user, settings, enqueued, django_capture_on_commit_callbacks
):
    settings.INGEST_STUCK_MINUTES = 30
    stuck = make_document(user, status="processing", minutes_ago=45, attempts=1)
    lost = make_document(user, status="queued", minutes_ago=45, attempts=0)
    busy = make_document(user, status="processing", minutes_ago=5, attempts=1)
    waiting = make_document(user, status="queued", minutes_ago=5, attempts=0)

    with django_capture_on_commit_callbacks(execute=True):
        requeued = services.documents_requeue_stuck()

    assert str(stuck.pk) in requeued and str(lost.pk) in requeued
    assert str(busy.pk) not in requeued and str(waiting.pk) not in requeued
    assert str(stuck.pk) in enqueued and str(lost.pk) in enqueued
    assert str(busy.pk) not in enqueued and str(waiting.pk) not in enqueued
    stuck.refresh_from_db()
    assert stuck.status == "queued"
    assert stuck.stage == "queued" and stuck.progress == 0
    assert stuck.attempts == 1  # the job keeps counting interrupted attempts
    busy.refresh_from_db()
    assert busy.status == "processing" and busy.progress == 40


def test_a_document_interrupted_three_times_fails_with_a_reason(user, settings, enqueued):
    settings.INGEST_STUCK_MINUTES = 30
    doomed = make_document(user, status="processing", minutes_ago=60, attempts=3)

    requeued = services.documents_requeue_stuck()

    assert str(doomed.pk) not in requeued
    assert str(doomed.pk) not in enqueued
    doomed.refresh_from_db()
    assert doomed.status == "failed"
    assert "interrupted 3 times" in doomed.failure_reason
    assert "Reprocess" in doomed.failure_reason


def test_requeued_document_then_completes(upload, settings, enqueued, django_capture_on_commit_callbacks):
    settings.INGEST_STUCK_MINUTES = 30
    document_id = upload("book.txt", files.text_bytes(3))
    Document.objects.filter(pk=document_id).update(
        status="processing", attempts=1, updated_at=timezone.now() - timedelta(minutes=31)
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.documents_requeue_stuck()
    assert enqueued.count(document_id) == 1

    pipeline.run(document_id=document_id)

    document = Document.objects.get(pk=document_id)
    assert document.status == "completed"
    assert document.attempts == 2


def test_beat_runs_the_requeue_job_more_often_than_the_timeout():
    from theo.celery import app

    entries = [
        e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"].endswith("requeue_stuck_documents_task")
    ]
    assert len(entries) == 1
    assert entries[0]["task"] == "apps.documents.tasks.requeue_stuck_documents_task"
    assert entries[0]["task"] in app.tasks
    assert entries[0]["schedule"] <= timedelta(minutes=django_settings.INGEST_STUCK_MINUTES)
