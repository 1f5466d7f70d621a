import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.documents import pipeline
from apps.documents.models import Document
from apps.index.models import Passage

pytestmark = pytest.mark.django_db


def test_text_upload_runs_through_the_pipeline(client_for, user, django_capture_on_commit_callbacks):
    text = ("Paul writes in Rom 8:28-30 that all things work together. " * 40 + "\f") * 3
    upload = SimpleUploadedFile("sermon.txt", text.encode(), content_type="text/plain")
    with django_capture_on_commit_callbacks(execute=False):
        response = client_for(user).post("/api/v1/documents/", {"file": upload, "title": "Sermon"}, format="multipart")
    assert response.status_code == 202, response.content
    doc_id = response.json()["id"]
    pipeline.run(document_id=doc_id)
    document = Document.objects.get(pk=doc_id)
    assert document.status == "completed", document.failure_reason
    passages = Passage.objects.filter(source_id=doc_id)
    assert passages.count() > 1
    assert "Romans 8:28-30" in passages[0].scripture_references
    print(document.themes, document.stage_log)


def test_over_limit_upload_is_413_and_nothing_is_stored(client_for, user, settings, tmp_path):
    settings.MAX_UPLOAD_MB = 1
    settings.DOCUMENTS_DIR = tmp_path
    big = SimpleUploadedFile("big.txt", b"word " * (300 * 1024), content_type="text/plain")
    response = client_for(user).post("/api/v1/documents/", {"file": big}, format="multipart")
    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not Document.objects.exists()
    assert not any(tmp_path.iterdir())
