"""Ingestion abuse limits (issue 10): reprocess single-flight and rate-limited, the pipeline
single-flight under a lock, starts of one document bounded, caps on the passages made from
one file, the upload limit on the whole request, and the per-user storage quota."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connections

from apps.core.models import AuditEvent
from apps.documents import chunking, pipeline
from apps.documents.models import Document
from apps.documents.tasks import ingest_document_task
from apps.index.models import Passage
from tests.documents import files
from tests.documents.factories import (
    DOCUMENTS_URL,
    CompletedDocumentFactory,
    DocumentFactory,
    ReaderFactory,
    document_url,
    upload,
)
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


@pytest.fixture
def enqueued(monkeypatch: Any) -> list[str]:
    sent: list[str] = []
    monkeypatch.setattr(ingest_document_task, "delay", lambda document_id: sent.append(document_id))
    return sent


def passages_of(document: Document) -> Any:
    return Passage.objects.filter(source_kind=Passage.SourceKind.DOCUMENT, source_id=document.pk)


# --- reprocess: single-flight and rate-limited --------------------------------------------


def test_reprocess_of_a_queued_document_is_409_and_queues_nothing(client_for, enqueued):
    document = DocumentFactory(status="queued")

    response = client_for(document.owner).post(document_url(document, "reprocess/"))

    error = assert_error(response, 409, "already_queued")
    assert "already queued" in error["message"]
    assert enqueued == []
    assert not AuditEvent.objects.filter(action="document.reprocess", target_id=str(document.pk)).exists()


def test_reprocess_twice_in_a_row_queues_one_run(client_for, enqueued, django_capture_on_commit_callbacks):
    document = CompletedDocumentFactory()
    client = client_for(document.owner)

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(document_url(document, "reprocess/"))
        second = client.post(document_url(document, "reprocess/"))

    assert first.status_code == 202, first.content
    assert_error(second, 409, "already_queued")
    assert enqueued == [str(document.pk)]


def test_reprocess_is_rate_limited_per_user(client_for, enqueued, settings, django_capture_on_commit_callbacks):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "reprocess": "3/h"}
    owner = ReaderFactory()
    documents = [CompletedDocumentFactory(owner=owner) for _ in range(4)]
    client = client_for(owner)

    with django_capture_on_commit_callbacks(execute=True):
        for document in documents[:3]:
            assert client.post(document_url(document, "reprocess/")).status_code == 202
        response = client.post(document_url(documents[3], "reprocess/"))

    error = assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0 and error["details"]["retry_after"] > 0
    assert Document.objects.get(pk=documents[3].pk).status == "completed"
    assert len(enqueued) == 3
    other = CompletedDocumentFactory()
    assert client_for(other.owner).post(document_url(other, "reprocess/")).status_code == 202


def test_the_default_reprocess_rate_is_ten_an_hour(settings):
    assert settings.RATE_LIMITS["reprocess"] == "10/h"


def test_refused_reprocess_requests_do_not_use_up_the_rate(client_for, enqueued, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "reprocess": "1/h"}
    busy = DocumentFactory(status="processing")
    owner_client = client_for(busy.owner)
    for _ in range(3):
        assert_error(owner_client.post(document_url(busy, "reprocess/")), 409, "in_progress")
    done = CompletedDocumentFactory(owner=busy.owner)
    assert owner_client.post(document_url(done, "reprocess/")).status_code == 202


# --- the pipeline: single-flight and bounded starts ---------------------------------------


@pytest.fixture
def other_session() -> Any:
    """A second database session, as a second worker would have."""
    connection = connections.create_connection("default")
    yield connection
    connection.close()


def test_a_second_delivery_while_a_run_holds_the_document_is_a_no_op(other_session):
    document = DocumentFactory(content=files.text_bytes(2))
    with other_session.cursor() as cursor:  # another worker is running this document
        cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [f"theo.ingest:{document.pk}"])

    pipeline.run(document_id=str(document.pk))  # the duplicate task

    document.refresh_from_db()
    assert (document.status, document.attempts) == ("queued", 0)
    assert not passages_of(document).exists()

    with other_session.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock_all()")
    pipeline.run(document_id=str(document.pk))
    document.refresh_from_db()
    assert (document.status, document.attempts) == ("completed", 1)


def test_the_lock_is_released_after_a_run(other_session):
    document = DocumentFactory(content=files.text_bytes(1))
    pipeline.run(document_id=str(document.pk))
    with other_session.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [f"theo.ingest:{document.pk}"])
        assert cursor.fetchone()[0] is True


def test_a_document_started_too_often_without_finishing_fails_instead_of_running(settings):
    """A worker killed mid-document (the kernel's OOM killer) leaves it "processing"; the
    redelivered task starts it again, and again: past the bound it fails, said why."""
    settings.INGEST_MAX_ATTEMPTS = 3
    document = DocumentFactory(content=files.text_bytes(2), status="processing", stage="embed", attempts=3)

    pipeline.run(document_id=str(document.pk))

    document.refresh_from_db()
    assert document.status == "failed"
    assert document.attempts == 3
    assert "interrupted 3 times" in document.failure_reason
    assert "THEO_INGEST_MAX_ATTEMPTS" in document.failure_reason and "Reprocess" in document.failure_reason
    assert not passages_of(document).exists()
    assert AuditEvent.objects.filter(action="document.give_up", target_id=str(document.pk)).exists()


def test_below_the_bound_an_interrupted_document_is_finished(settings):
    settings.INGEST_MAX_ATTEMPTS = 3
    document = DocumentFactory(content=files.text_bytes(2), status="processing", stage="embed", attempts=2)
    pipeline.run(document_id=str(document.pk))
    document.refresh_from_db()
    assert (document.status, document.attempts) == ("completed", 3)


def test_a_transient_error_does_not_count_as_an_interruption(settings, monkeypatch):
    settings.INGEST_MAX_ATTEMPTS = 1
    document = DocumentFactory(content=files.text_bytes(2))

    def database_away(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("the database went away for a moment")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_embed", database_away)
        with pytest.raises(OperationalError):
            pipeline.run(document_id=str(document.pk))
    document.refresh_from_db()
    assert (document.status, document.attempts) == ("queued", 0)

    pipeline.run(document_id=str(document.pk))  # the retry
    document.refresh_from_db()
    assert document.status == "completed", document.failure_reason


# --- caps on what one file becomes ---------------------------------------------------------


def test_a_file_that_would_make_too_many_passages_fails_before_they_are_built(settings, monkeypatch):
    settings.MAX_DOCUMENT_PASSAGES = 5
    settings.CHUNK_WORDS, settings.CHUNK_OVERLAP_WORDS = 10, 2
    document = DocumentFactory(content=b"a " * 1000)  # one-letter words: 125 passages
    built: list[int] = []
    real_chunk_pages = chunking.chunk_pages

    def counting_chunk_pages(*args, **kwargs):
        built.append(1)
        return real_chunk_pages(*args, **kwargs)

    monkeypatch.setattr(pipeline, "chunk_pages", counting_chunk_pages)

    pipeline.run(document_id=str(document.pk))

    document.refresh_from_db()
    assert document.status == "failed"
    assert "125 passages" in document.failure_reason
    assert "THEO_MAX_DOCUMENT_PASSAGES" in document.failure_reason and "Split it" in document.failure_reason
    assert built == []
    assert not passages_of(document).exists()


def test_a_file_with_too_much_text_fails_with_the_limit_named(settings):
    settings.MAX_DOCUMENT_CHARS = 1000
    document = DocumentFactory(content=files.text_bytes(3))

    pipeline.run(document_id=str(document.pk))

    document.refresh_from_db()
    assert document.status == "failed"
    assert "1,000 characters" in document.failure_reason and "THEO_MAX_DOCUMENT_CHARS" in document.failure_reason


def test_under_both_caps_a_document_completes(settings):
    settings.MAX_DOCUMENT_PASSAGES = 1000
    document = DocumentFactory(content=files.text_bytes(3))
    pipeline.run(document_id=str(document.pk))
    document.refresh_from_db()
    assert document.status == "completed", document.failure_reason
    assert document.passage_count == passages_of(document).count() > 0


# --- the upload limit covers the whole request ---------------------------------------------


def stored_files(root: Any) -> list[Any]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_many_parts_each_under_the_limit_are_413_together(client_for, settings, documents_dir):
    settings.MAX_UPLOAD_MB = 1
    owner = ReaderFactory()
    parts = [SimpleUploadedFile(f"part-{n}.txt", bytes([65 + n]) * (MB * 6 // 10)) for n in range(3)]

    response = client_for(owner).post(DOCUMENTS_URL, {"file": parts}, format="multipart")

    error = assert_error(response, 413, "payload_too_large")
    assert "whole request" in error["message"]
    assert error["details"] == {"max_upload_mb": 1}
    assert not Document.objects.filter(owner=owner).exists()
    assert stored_files(documents_dir) == []


def test_a_body_declared_larger_than_the_limit_is_refused_unread(client_for, settings, monkeypatch):
    settings.MAX_UPLOAD_MB = 1
    from apps.documents.uploads import LimitedUploadHandler

    chunks: list[int] = []
    real_receive = LimitedUploadHandler.receive_data_chunk

    def counting_receive(self, data, start):
        chunks.append(len(data))
        return real_receive(self, data, start)

    monkeypatch.setattr(LimitedUploadHandler, "receive_data_chunk", counting_receive)
    owner = ReaderFactory()

    response = upload(client_for(owner), b"w" * (3 * MB), "huge.txt")

    error = assert_error(response, 413, "payload_too_large")
    assert "whole request" in error["message"]
    assert chunks == []  # not a byte of the file was read
    assert not Document.objects.filter(owner=owner).exists()


def test_one_file_under_the_limit_still_uploads(client_for, settings):
    settings.MAX_UPLOAD_MB = 1
    response = upload(client_for(ReaderFactory()), b"word " * (200 * 1024), "fits.txt")
    assert response.status_code == 202, response.content


# --- the storage quota ---------------------------------------------------------------------


def test_an_upload_past_the_quota_is_413_quota_exceeded(client_for, settings, documents_dir, enqueued):
    settings.USER_QUOTA_MB = 1
    owner = ReaderFactory()
    client = client_for(owner)
    assert upload(client, b"a" * (MB * 6 // 10), "first.txt").status_code == 202
    before = stored_files(documents_dir)

    response = upload(client, b"b" * (MB * 6 // 10), "second.txt")

    error = assert_error(response, 413, "quota_exceeded")
    assert "1 MB quota" in error["message"] and "Delete documents" in error["message"]
    details = error["details"]
    assert details["used_bytes"] == MB * 6 // 10
    assert details["limit_bytes"] == MB and details["limit_mb"] == 1
    assert details["upload_bytes"] == MB * 6 // 10
    assert details["used_mb"] == 0.6
    assert Document.objects.filter(owner=owner).count() == 1
    assert stored_files(documents_dir) == before
    # Someone else has their own quota; deleting makes room again.
    assert upload(client_for(ReaderFactory()), b"c" * (MB * 6 // 10), "theirs.txt").status_code == 202
    first = Document.objects.get(owner=owner)
    assert client.delete(document_url(first)).status_code == 204
    assert upload(client, b"b" * (MB * 6 // 10), "second.txt").status_code == 202


def test_the_quota_is_checked_again_with_the_row_locked(client_for, settings, documents_dir, monkeypatch):
    """Two uploads at once: each passes the first check; the one that commits second finds
    the first's row under the lock and is refused, its stored file removed."""
    from apps.documents import services

    settings.USER_QUOTA_MB = 1
    owner = ReaderFactory()
    real_check = services.check_quota
    calls: list[int] = []

    def racing_check(*, owner: Any, adding: int) -> None:
        calls.append(adding)
        if len(calls) == 1:  # the first check passes; meanwhile another upload lands
            real_check(owner=owner, adding=adding)
            DocumentFactory(owner=owner, content=b"z" * (MB * 6 // 10))
            return
        real_check(owner=owner, adding=adding)

    monkeypatch.setattr(services, "check_quota", racing_check)
    response = upload(client_for(owner), b"b" * (MB * 6 // 10), "second.txt")

    assert_error(response, 413, "quota_exceeded")
    assert len(calls) == 2
    assert Document.objects.filter(owner=owner).count() == 1
    assert len(stored_files(documents_dir)) == 1  # the other upload's file only


def test_a_quota_of_zero_means_no_quota(client_for, settings):
    settings.USER_QUOTA_MB = 0
    owner = ReaderFactory()
    DocumentFactory(owner=owner, content=b"x" * (3 * MB))
    assert upload(client_for(owner), b"more words", "more.txt").status_code == 202


def test_the_upload_page_shows_the_quota(client, settings):
    settings.USER_QUOTA_MB = 10
    owner = ReaderFactory()
    DocumentFactory(owner=owner, content=b"x" * (MB * 5 // 2))
    client.force_login(owner)

    page = client.get("/documents/").content.decode()

    assert "Storage: 2.5 of 10 MB used" in page
    assert 'value="25"' in page
    assert "storage is full" not in page

    DocumentFactory(owner=owner, content=b"y" * (8 * MB))
    assert "Your storage is full" in client.get("/documents/").content.decode()


def test_a_huge_form_field_is_413_not_a_server_error(client_for, settings):
    settings.MAX_UPLOAD_MB = 50
    owner = ReaderFactory()
    response = client_for(owner).post(
        DOCUMENTS_URL,
        {"file": SimpleUploadedFile("a.txt", b"words"), "title": "t" * (6 * MB)},
        format="multipart",
    )
    error = assert_error(response, 413, "payload_too_large")
    assert "form fields" in error["message"]
    assert not Document.objects.filter(owner=owner).exists()


def test_too_many_parts_is_400_not_a_server_error(client_for, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    owner = ReaderFactory()
    parts = [SimpleUploadedFile(f"{n}.txt", f"words {n}".encode()) for n in range(3)]
    response = client_for(owner).post(DOCUMENTS_URL, {"file": parts}, format="multipart")
    error = assert_error(response, 400, "validation_error")
    assert "too many parts" in error["message"]


@pytest.mark.django_db(transaction=True)
def test_two_reprocess_requests_at_once_queue_one_run(enqueued):
    """Both requests read "completed"; the row lock makes the second see the first's "queued"."""
    import threading

    from django.db import connection

    from apps.core.errors import Conflict
    from apps.documents import services

    document = CompletedDocumentFactory()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def ask() -> None:
        try:
            barrier.wait()
            services.document_reprocess(document=Document.objects.get(pk=document.pk), actor=document.owner)
            outcomes.append("queued")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["already_queued", "queued"]
    assert enqueued == [str(document.pk)]
