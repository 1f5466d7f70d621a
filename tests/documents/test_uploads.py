"""Uploading through the API: what is accepted (sniffed from the bytes, not the name),
every refusal in the error format, per-owner deduplication, the size and rate limits,
private storage by id, and downloading the original back with a safe file name."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.db import connection

from apps.core.models import AuditEvent
from apps.documents import storage
from apps.documents.models import Document
from apps.documents.tasks import ingest_document_task
from apps.users.models import User
from tests.documents import files
from tests.documents.factories import DOCUMENTS_URL, DocumentFactory, ReaderFactory, document_url, upload
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader() -> User:
    return ReaderFactory()


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- accepted uploads -------------------------------------------------------------------


def test_upload_answers_202_with_the_queued_document_and_stores_it_privately(
    client_for, reader, documents_dir, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[str] = []
    monkeypatch.setattr(ingest_document_task, "delay", lambda document_id: queued.append(document_id))
    content = files.text_bytes(2)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            client_for(reader), content, "Calvin on Romans.txt", title="Calvin on Romans", document_type="biblical"
        )

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["stage"] == "queued"
    assert body["progress"] == 0
    assert body["title"] == "Calvin on Romans"
    assert body["document_type"] == "biblical"
    assert body["file_type"] == "text"
    assert body["original_filename"] == "Calvin on Romans.txt"
    assert body["size_bytes"] == len(content)
    assert body["owner"] == {"id": str(reader.pk), "display_name": reader.display_name}
    assert body["access"] == "owner"
    assert response["Location"] == document_url(body["id"])
    assert "X-Request-ID" in response

    document = Document.objects.get(pk=body["id"])
    assert document.owner == reader
    # Stored under <id[:2]>/<id>, never under the user's file name.
    assert stored_files(documents_dir) == [documents_dir / body["id"][:2] / body["id"]]
    assert storage.path_for(document).read_bytes() == content
    assert AuditEvent.objects.filter(action="document.upload", target_id=body["id"], actor=reader).exists()
    # Ingestion is enqueued once the row is committed, with the id only.
    assert queued == [body["id"]]


def test_location_header_leads_to_the_document(client_for, reader):
    client = client_for(reader)
    response = upload(client, files.markdown_bytes(1), "notes.md")
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert detail.json()["id"] == response.json()["id"]


@pytest.mark.parametrize(
    ("make", "name", "file_type"),
    [
        (files.pdf_bytes, "lectures.pdf", "pdf"),
        (files.docx_bytes, "sermon.docx", "docx"),
        (files.html_bytes, "sermon.html", "html"),
        (files.html_bytes, "sermon.htm", "html"),
        (files.markdown_bytes, "study.md", "markdown"),
        (files.text_bytes, "notes.txt", "text"),
        (files.text_bytes, "notes", "text"),  # no extension: the bytes decide
        (files.html_bytes, "saved page", "html"),
    ],
)
def test_each_accepted_format_is_recognised_from_its_bytes(client_for, reader, make, name, file_type):
    response = upload(client_for(reader), make(), name)
    assert response.status_code == 202, response.content
    assert response.json()["file_type"] == file_type


def test_the_declared_content_type_is_not_trusted(client_for, reader):
    response = upload(client_for(reader), files.pdf_bytes(1), "paper.pdf", content_type="text/plain")
    assert response.status_code == 202, response.content
    assert response.json()["file_type"] == "pdf"


def test_title_defaults_to_the_file_name(client_for, reader):
    response = upload(client_for(reader), files.text_bytes(1), "Institutes of the Christian Religion.txt")
    assert response.status_code == 202, response.content
    assert response.json()["title"] == "Institutes of the Christian Religion"
    assert response.json()["document_type"] == "theological"


def test_unknown_document_type_is_refused(client_for, reader):
    response = upload(client_for(reader), files.text_bytes(1), "notes.txt", document_type="poetry")
    error = assert_error(response, 400, "validation_error")
    assert "document_type" in error["details"]
    assert not Document.objects.filter(owner=reader).exists()


# --- deduplication ----------------------------------------------------------------------


def test_the_same_file_twice_by_one_owner_is_409_naming_the_existing_document(client_for, reader, documents_dir):
    client = client_for(reader)
    content = files.text_bytes(2)
    first = upload(client, content, "sermon.txt", title="First copy")
    assert first.status_code == 202

    again = upload(client, content, "renamed copy.txt", title="Second copy")

    error = assert_error(again, 409, "duplicate_document")
    assert error["details"]["document_id"] == first.json()["id"]
    assert "First copy" in error["message"]
    assert Document.objects.filter(owner=reader).count() == 1
    assert len(stored_files(documents_dir)) == 1


def test_after_deleting_a_document_the_same_file_can_be_uploaded_again(
    client_for, reader, django_capture_on_commit_callbacks
):
    client = client_for(reader)
    content = files.text_bytes(1)
    first_id = upload(client, content, "sermon.txt").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(document_url(first_id)).status_code == 204
    again = upload(client, content, "sermon.txt")
    assert again.status_code == 202, again.content
    assert again.json()["id"] != first_id


def test_another_owners_identical_file_is_a_separate_document_and_never_revealed(client_for, reader):
    content = files.text_bytes(2)
    first = upload(client_for(reader), content, "sermon.txt", title="Private sermon notes")
    assert first.status_code == 202
    stranger = ReaderFactory()

    second = upload(client_for(stranger), content, "sermon.txt")

    assert second.status_code == 202, second.content
    body = second.json()
    assert body["id"] != first.json()["id"]
    assert body["owner"]["id"] == str(stranger.pk)
    assert first.json()["id"] not in second.content.decode()
    assert "Private sermon notes" not in second.content.decode()
    assert Document.objects.get(pk=body["id"]).owner == stranger
    # The first owner's document stays theirs alone.
    assert client_for(stranger).get(document_url(first.json()["id"])).status_code == 404


# --- refused uploads --------------------------------------------------------------------


def test_a_word_document_named_pdf_is_a_type_mismatch(client_for, reader, documents_dir):
    response = upload(client_for(reader), files.docx_bytes(1), "paper.pdf", content_type="application/pdf")
    error = assert_error(response, 415, "file_type_mismatch")
    assert error["details"] == {"declared": "pdf", "detected": "docx"}
    assert not Document.objects.filter(owner=reader).exists()
    assert stored_files(documents_dir) == []


def test_a_pdf_named_txt_is_a_type_mismatch(client_for, reader):
    response = upload(client_for(reader), files.pdf_bytes(1), "notes.txt")
    assert_error(response, 415, "file_type_mismatch")


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"Plain words, but the name says it is a program.", "setup.exe"),
        (bytes(range(256)) * 64, "notes.txt"),  # binary junk, whatever the name
        (bytes(range(256)) * 64, "blob"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "photo.png"),
    ],
    ids=["exe-extension", "junk-named-txt", "junk-no-name", "png"],
)
def test_unsupported_files_are_415(client_for, reader, documents_dir, content, name):
    response = upload(client_for(reader), content, name)
    error = assert_error(response, 415, "unsupported_file_type")
    assert "PDF" in error["message"]
    assert not Document.objects.filter(owner=reader).exists()
    assert stored_files(documents_dir) == []


def test_a_zip_that_is_not_a_word_document_is_415(client_for, reader):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "not a docx")
    response = upload(client_for(reader), archive.getvalue(), "sermon.docx")
    assert_error(response, 415, "unsupported_file_type")


@pytest.mark.parametrize("content", [b"", b"  \n\n \t "], ids=["empty", "only-whitespace"])
def test_an_empty_file_is_400(client_for, reader, documents_dir, content):
    response = upload(client_for(reader), content, "empty.txt")
    assert_error(response, 400, "empty_file")
    assert not Document.objects.filter(owner=reader).exists()
    assert stored_files(documents_dir) == []


def test_a_request_without_a_file_is_400(client_for, reader):
    response = client_for(reader).post(DOCUMENTS_URL, {"title": "Forgot the file"}, format="multipart")
    error = assert_error(response, 400, "validation_error")
    assert "file" in error["details"]


def test_over_the_size_limit_is_413_and_nothing_is_stored(client_for, reader, settings, documents_dir):
    settings.MAX_UPLOAD_MB = 1
    too_big = b"In the beginning was the Word. " * (40 * 1024)  # 1.2 MB of text
    assert len(too_big) > 1024 * 1024

    response = upload(client_for(reader), too_big, "big.txt")

    error = assert_error(response, 413, "payload_too_large")
    assert "1 MB" in error["message"]
    assert error["details"] == {"max_upload_mb": 1}
    assert not Document.objects.filter(owner=reader).exists()
    assert stored_files(documents_dir) == []


def test_a_file_just_under_the_limit_is_accepted(client_for, reader, settings):
    settings.MAX_UPLOAD_MB = 1
    response = upload(client_for(reader), b"word " * (200 * 1024), "fits.txt")  # 1,000 KiB
    assert response.status_code == 202, response.content


def test_the_21st_upload_in_an_hour_is_rate_limited(client_for, reader):
    client = client_for(reader)
    for n in range(20):
        response = upload(client, f"Sermon number {n} on grace.".encode(), f"sermon-{n}.txt")
        assert response.status_code == 202, (n, response.content)

    response = upload(client, b"One sermon too many.", "sermon-21.txt")

    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    assert Document.objects.filter(owner=reader).count() == 20
    # The limit is per user: someone else still uploads.
    assert upload(client_for(ReaderFactory()), b"Another reader's sermon.", "mine.txt").status_code == 202


def test_the_upload_rate_follows_settings(client_for, reader, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "upload": "2/h"}
    client = client_for(reader)
    assert upload(client, b"first", "a.txt").status_code == 202
    assert upload(client, b"second", "b.txt").status_code == 202
    assert_error(upload(client, b"third", "c.txt"), 429, "rate_limited")


def test_the_upload_refusal_names_the_rate_in_settings(client_for, reader, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "upload": "2/h"}
    client = client_for(reader)
    upload(client, b"first", "a.txt")
    upload(client, b"second", "b.txt")
    error = assert_error(upload(client, b"third", "c.txt"), 429, "rate_limited")
    assert error["message"] == "You have uploaded 2 files this hour; try again later."


def test_a_database_error_inside_the_upload_transaction_leaves_no_stored_file(
    client_for, reader, documents_dir, monkeypatch
):
    """Any failure after the file is stored (here PostgreSQL refusing the audit row's
    transaction), not only a duplicate's IntegrityError, takes the stored file away."""

    def audit_fails(**_: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")  # a real DataError from the database

    monkeypatch.setattr("apps.documents.services.audit_record", audit_fails)

    response = upload(client_for(reader), files.text_bytes(1), "lost.txt")

    assert_error(response, 500, "server_error")
    assert not Document.objects.filter(owner=reader).exists()
    assert stored_files(documents_dir) == []


def test_a_failure_while_storing_the_file_leaves_no_partial_copy(client_for, reader, documents_dir, monkeypatch):
    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("apps.documents.storage.os.replace", disk_full)

    response = upload(client_for(reader), files.text_bytes(1), "full.txt")

    assert response.status_code == 500
    assert not Document.objects.filter(owner=reader).exists()
    assert stored_files(documents_dir) == []


def test_guests_cannot_upload(client_for, documents_dir):
    guest = ReaderFactory(role=User.Role.GUEST)
    response = upload(client_for(guest), files.text_bytes(1), "notes.txt")
    assert_error(response, 403, "permission_denied")
    assert not Document.objects.filter(owner=guest).exists()
    assert stored_files(documents_dir) == []


def test_anonymous_upload_is_401(client_for):
    response = upload(client_for(None), files.text_bytes(1), "notes.txt")
    assert_error(response, 401, "not_authenticated")


# --- downloading the original -----------------------------------------------------------


def test_download_returns_the_original_bytes_as_an_attachment(client_for, reader):
    client = client_for(reader)
    content = files.pdf_bytes(2)
    document_id = upload(client, content, "lectures.pdf").json()["id"]

    response = client.get(document_url(document_id, "file/"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="lectures.pdf"'
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "X-Request-ID" in response


def test_an_uploaded_html_file_is_downloaded_never_rendered(client_for, reader):
    client = client_for(reader)
    document_id = upload(client, files.html_bytes(1), "sermon.html").json()["id"]
    response = client.get(document_url(document_id, "file/"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_hostile_file_name_is_neutralised_on_upload_and_download(client_for, reader, documents_dir):
    """Quotes, a newline, path separators and non-ASCII in the multipart file name
    (RFC 2231 encoded, as some clients send it) reach neither the disk nor a raw header."""
    client = client_for(reader)
    content = b"Notes on Romans 8:28.\n"
    boundary = "theo-test-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            "Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''..%2F..%5Cevil%22%0AR%C3%B6mer.txt\r\n"
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )

    response = client.generic("POST", DOCUMENTS_URL, body, content_type=f"multipart/form-data; boundary={boundary}")

    assert response.status_code == 202, response.content
    document_id = response.json()["id"]
    filename = response.json()["original_filename"]
    assert "/" not in filename and "\\" not in filename and "\n" not in filename and ".." not in filename
    assert stored_files(documents_dir) == [documents_dir / document_id[:2] / document_id]

    download = client.get(document_url(document_id, "file/"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "\n" not in disposition and "\r" not in disposition
    assert "/" not in disposition.split("''")[-1] and ".." not in disposition
    assert "R%C3%B6mer" in disposition  # the non-ASCII name survives, encoded (RFC 6266)


@pytest.mark.parametrize(
    "stored_name",
    ['../../evil"\n.txt', 'Römer "Kommentar"\r\nSet-Cookie: x=1.txt'],
    ids=["path-and-newline", "header-injection"],
)
def test_download_headers_are_safe_whatever_name_was_stored(client_for, stored_name):
    """The upload strips such names; the download must not rely on it (older rows, admin edits)."""
    document = DocumentFactory(original_filename=stored_name)
    response = client_for(document.owner).get(document_url(document, "file/"))
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "\n" not in disposition and "\r" not in disposition
    assert "Set-Cookie" not in response
    filename_part = disposition.split(";", 1)[1]
    assert "/" not in filename_part and ".." not in filename_part


def test_download_of_a_missing_file_is_a_readable_error(client_for):
    document = DocumentFactory(content=None)
    response = client_for(document.owner).get(document_url(document, "file/"))
    assert response.status_code >= 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["message"]
