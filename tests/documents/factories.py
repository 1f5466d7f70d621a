"""factory_boy factories for documents, shares, notes and document passages, and the
requests tests make (upload, document URLs).

Rows are built directly (no pipeline, no embedding model) so most tests stay fast; tests
that need real passages upload a file and run `pipeline.run`. E-mail addresses are
unique across processes: the test database is shared with other test runs.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.documents import storage
from apps.documents.models import Document, DocumentAccess, DocumentNote
from apps.index.models import Passage
from tests.users.factories import UserFactory

_UNSET: Any = object()
DEFAULT_CONTENT = b"Grace precedes faith (Eph 2:8-9). The commentary continues.\n"


class ReaderFactory(UserFactory):
    email = factory.LazyFunction(lambda: f"reader-{uuid.uuid4().hex[:12]}@example.org")


class DocumentFactory(factory.django.DjangoModelFactory):
    """A document row with its file stored where the product keeps it.

    `content=b"..."` is what the stored file holds (size and SHA-256 follow from it);
    `content=None` stores no file."""

    class Meta:
        model = Document

    owner = factory.SubFactory(ReaderFactory)
    title = factory.Sequence(lambda n: f"Commentary {n}")
    document_type = Document.DocumentType.THEOLOGICAL
    file_type = Document.FileType.TEXT
    original_filename = "commentary.txt"
    status = Document.Status.QUEUED
    stage = Document.Stage.QUEUED

    @classmethod
    def _create(cls, model_class: type[Document], *args: Any, content: Any = _UNSET, **kwargs: Any) -> Document:
        if content is _UNSET or content is None:
            # Unique per row: the same owner may not hold one file twice.
            kwargs.setdefault("sha256", hashlib.sha256(uuid.uuid4().bytes).hexdigest())
            content = DEFAULT_CONTENT if content is _UNSET else None
        if "sha256" not in kwargs:
            kwargs["sha256"] = hashlib.sha256(content).hexdigest()
        kwargs.setdefault("size_bytes", len(content or b""))
        document = super()._create(model_class, *args, **kwargs)
        if content is not None:
            path = storage.path_for(document)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        return document


class CompletedDocumentFactory(DocumentFactory):
    status = Document.Status.COMPLETED
    stage = Document.Stage.DONE
    progress = 100
    progress_message = "Ready"
    page_count = 3


class ShareFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DocumentAccess

    document = factory.SubFactory(DocumentFactory)
    user = factory.SubFactory(ReaderFactory)
    permission = DocumentAccess.Permission.VIEW
    created_by = factory.LazyAttribute(lambda o: o.document.owner)


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DocumentNote

    document = factory.SubFactory(DocumentFactory)
    author = factory.LazyAttribute(lambda o: o.document.owner)
    body = factory.Sequence(lambda n: f"Note {n} on the golden chain.")


class DocumentPassageFactory(factory.django.DjangoModelFactory):
    """A chunk of a document in the passage index, with the access fields the document gives it."""

    class Meta:
        model = Passage

    class Params:
        document = factory.SubFactory(DocumentFactory)

    source_kind = Passage.SourceKind.DOCUMENT
    source_id = factory.LazyAttribute(lambda o: o.document.pk)
    owner_id = factory.LazyAttribute(lambda o: o.document.owner_id)
    title = factory.LazyAttribute(lambda o: o.document.title)
    chunk_index = factory.Sequence(lambda n: n)
    text = factory.Sequence(lambda n: f"Passage {n}: all things work together for good.")
    page_start = 1
    page_end = factory.LazyAttribute(lambda o: o.page_start)
    visibility = Passage.Visibility.PRIVATE


# --- requests ---------------------------------------------------------------------------

DOCUMENTS_URL = "/api/v1/documents/"


def upload(client: APIClient, content: bytes, name: str = "sermon.txt", **fields: Any) -> Any:
    """POST a file to the upload API the way a browser or script would (multipart)."""
    content_type = fields.pop("content_type", "application/octet-stream")
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(DOCUMENTS_URL, {"file": file, **fields}, format="multipart")


def document_url(document: Any, suffix: str = "") -> str:
    pk = document if isinstance(document, str | uuid.UUID) else document.pk
    return f"{DOCUMENTS_URL}{pk}/{suffix}"
