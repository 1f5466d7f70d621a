"""Ingestion through a real Celery worker: upload through the API, the task travels through
the real broker, the worker reads the stored file, and the document completes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.documents import storage
from apps.documents.models import Document
from apps.index.models import Passage
from tests.documents import files
from tests.integration.conftest import subprocess_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FINISH_SECONDS = 90  # the worker loads the embedding model on its first document


def upload(client: Any, name: str, data: bytes, title: str = "") -> str:
    response = client.post(
        "/api/v1/documents/",
        {"file": SimpleUploadedFile(name, data), "title": title or name, "document_type": "theological"},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def wait_until_finished(document_id: str, timeout: float = FINISH_SECONDS) -> Document:
    deadline = time.monotonic() + timeout
    while True:
        document = Document.objects.get(pk=document_id)
        if document.status in ("completed", "failed"):
            return document
        assert time.monotonic() < deadline, (
            f"still {document.status} at {document.stage} ({document.progress}%) after {timeout} s"
        )
        time.sleep(0.25)


def read_stream(response: Any) -> str:
    """The whole body of a (finite) event stream."""

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    assert response["Content-Type"].startswith("text/event-stream")
    return async_to_sync(read)().decode()


def passages_of(document_id: str) -> Any:
    return Passage.objects.filter(source_kind=Passage.SourceKind.DOCUMENT, source_id=document_id)


def test_the_worker_sees_the_same_documents_directory():
    """Files stored by the web process must be readable by the worker: both derive
    DOCUMENTS_DIR (THEO_DOCUMENTS_DIR in its environment)."""
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.DOCUMENTS_DIR)",
        ],
        cwd=settings.BASE_DIR,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert Path(printed.stdout.strip().splitlines()[-1]) == Path(settings.DOCUMENTS_DIR)


def test_an_upload_is_ingested_by_the_worker_then_reprocessed(celery_worker, client_for, user):
    client = client_for(user)
    document_id = upload(client, "lectures.pdf", files.pdf_bytes(4), title="Lectures on Romans")
    stored = storage.path_for(Document.objects.get(pk=document_id))
    assert stored.is_file() and stored.is_relative_to(settings.DOCUMENTS_DIR)

    try:
        document = wait_until_finished(document_id)
        assert document.status == "completed", document.failure_reason
        assert document.page_count == 4
        assert document.themes
        assert [entry["stage"] for entry in document.stage_log] == [
            "extract",
            "chunk",
            "embed",
            "index",
            "references",
            "themes",
        ]
        count = passages_of(document_id).count()
        assert count > 0 and document.passage_count == count
        assert all(len(p.embedding) == 384 for p in passages_of(document_id))
        assert any("Romans 8:28-30" in p.scripture_references for p in passages_of(document_id))

        listed = client.get(f"/api/v1/documents/{document_id}/passages/?page_size=100").json()
        assert listed["count"] == count
        body = read_stream(client.get(f"/api/v1/documents/{document_id}/progress/"))
        assert body.count("event: stage") == 6
        assert body.rstrip().split("\n\n")[-1].startswith("event: completed")

        old_ids = set(passages_of(document_id).values_list("id", flat=True))
        response = client.post(f"/api/v1/documents/{document_id}/reprocess/")
        assert response.status_code == 202, response.content

        document = wait_until_finished(document_id)
        assert document.status == "completed", document.failure_reason
        assert passages_of(document_id).count() == count
        assert document.passage_count == count
        new_ids = set(passages_of(document_id).values_list("id", flat=True))
        assert not new_ids & old_ids
        assert sorted(passages_of(document_id).values_list("chunk_index", flat=True)) == list(range(count))
    finally:
        client.delete(f"/api/v1/documents/{document_id}/")
    assert not stored.exists()
    assert not passages_of(document_id).exists()


def test_hostile_files_fail_in_the_worker_and_it_keeps_working(celery_worker, client_for, user):
    client = client_for(user)
    bomb_id = upload(client, "bomb.docx", files.zip_bomb_docx_bytes())
    locked_id = upload(client, "locked.pdf", files.encrypted_pdf_bytes())
    good_id = upload(client, "sermon.md", files.markdown_bytes(3))

    try:
        bomb = wait_until_finished(bomb_id)
        locked = wait_until_finished(locked_id)
        good = wait_until_finished(good_id)

        assert bomb.status == "failed" and "ZIP bomb" in bomb.failure_reason
        assert locked.status == "failed" and "encrypted" in locked.failure_reason
        assert not passages_of(bomb_id).exists() and not passages_of(locked_id).exists()
        assert good.status == "completed", good.failure_reason
        assert passages_of(good_id).exists()
        assert client.get(f"/api/v1/documents/{locked_id}/").json()["failure_reason"] == locked.failure_reason
    finally:
        for document_id in (bomb_id, locked_id, good_id):
            client.delete(f"/api/v1/documents/{document_id}/")
