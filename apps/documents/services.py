"""Document writes: upload, rename, reprocess, delete, shares and notes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, cast

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction

from apps.bible import scripture
from apps.core.errors import Conflict, NotFound, PermissionDenied, QuotaExceeded, ValidationFailed
from apps.core.ratelimits import enforce_rate_limit
from apps.core.services import audit_record
from apps.documents import limits, realtime, sniffing, storage
from apps.documents.models import Document, DocumentAccess, DocumentNote
from apps.documents.selectors import (
    IN_PIPELINE,
    document_passages,
    passage_access_for,
    storage_used_by,
    stuck_cutoff,
)
from apps.index.models import Passage
from apps.index.services import passages_set_access, passages_set_title
from apps.users.models import User

logger = structlog.get_logger(__name__)


class DuplicateDocument(Conflict):
    code = "duplicate_document"


def _enqueue_ingestion(document: Document) -> None:
    from apps.documents.tasks import ingest_document_task

    transaction.on_commit(lambda: ingest_document_task.delay(str(document.pk)))


def _check_document_type(document_type: str) -> None:
    if document_type not in Document.DocumentType.values:
        raise ValidationFailed(details={"document_type": ["Choose biblical or theological."]})


def _clean_title(title: str, fallback: str) -> str:
    title = " ".join((title or "").split())
    return (title or Path(fallback).stem or "Untitled")[:300]


# --- upload ---------------------------------------------------------------------------


def document_upload(
    *, owner: User, uploaded_file: Any, title: str = "", document_type: str = Document.DocumentType.THEOLOGICAL
) -> Document:
    """Validate (sniffed type, not empty, not a duplicate), store privately, create the
    Document (queued) and enqueue its ingestion once the row is committed.

    The owner's stored files plus this one may not pass THEO_USER_QUOTA_MB (413
    quota_exceeded): checked before the file is stored, and again under a lock on the
    owner's row with the new row, so two uploads at once cannot both squeeze in.

    The same file uploaded again by the same owner raises DuplicateDocument (409) naming
    the existing document; another owner's identical file is neither linked nor revealed.
    """
    if owner.is_guest:
        raise PermissionDenied("Guests can read documents shared with them but cannot upload.")
    enforce_rate_limit(
        scope="upload", key=f"user:{owner.pk}", message="You have uploaded {count} files {period}; try again later."
    )
    _check_document_type(document_type)
    filename = Path(getattr(uploaded_file, "name", "") or "upload").name[:255]
    temp_path = Path(uploaded_file.temporary_file_path())
    file_type = sniffing.sniff(temp_path, filename)
    sha256 = uploaded_file.sha256

    existing = Document.objects.filter(owner=owner, sha256=sha256).first()
    if existing is not None:
        raise _duplicate(existing)
    check_quota(owner=owner, adding=uploaded_file.size)
    document = Document(
        id=uuid.uuid4(),
        owner=owner,
        title=_clean_title(title, filename),
        document_type=document_type,
        file_type=file_type,
        original_filename=filename,
        size_bytes=uploaded_file.size,
        sha256=sha256,
    )
    storage.store(temp_path, document)
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=owner.pk).first()  # one upload per owner at a time
            check_quota(owner=owner, adding=document.size_bytes)
            document.save(force_insert=True)
            audit_record(actor=owner, action="document.upload", target=document, data={"file_type": file_type})
            _enqueue_ingestion(document)
    except BaseException as exc:  # no row: the stored file goes too, whatever failed
        storage.delete(document)
        if isinstance(exc, IntegrityError):  # the same file, uploaded twice at once
            existing = Document.objects.filter(owner=owner, sha256=sha256).first()
            if existing is not None:
                raise _duplicate(existing) from exc
        raise
    logger.info("document_uploaded", document_id=str(document.pk), file_type=file_type, size=document.size_bytes)
    return document


def check_quota(*, owner: User, adding: int) -> None:
    limit = limits.quota_bytes()
    if not limit:
        return
    used = storage_used_by(user=owner)
    if used + adding > limit:
        mb = 1024 * 1024
        raise QuotaExceeded(
            f"This file ({_mb(adding)} MB) would take your stored documents past your {settings.USER_QUOTA_MB} MB "
            f"quota ({_mb(used)} MB used). Delete documents you no longer need, or ask an admin for more room.",
            details={
                "used_bytes": used,
                "limit_bytes": limit,
                "upload_bytes": adding,
                "used_mb": round(used / mb, 1),
                "limit_mb": settings.USER_QUOTA_MB,
            },
        )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


def _duplicate(existing: Document) -> DuplicateDocument:
    return DuplicateDocument(
        f"You already uploaded this file as “{existing.title}”.",
        details={"document_id": str(existing.pk), "title": existing.title},
    )


# --- changes --------------------------------------------------------------------------


def document_update(
    *, document: Document, actor: User, title: str | None = None, document_type: str | None = None
) -> Document:
    changes: dict[str, Any] = {}
    if title is not None:
        cleaned = _clean_title(title, "")
        if not title.strip():
            raise ValidationFailed(details={"title": ["The title cannot be empty."]})
        if cleaned != document.title:
            changes["title"] = (document.title, cleaned)
            document.title = cleaned
    if document_type is not None and document_type != document.document_type:
        _check_document_type(document_type)
        changes["document_type"] = (document.document_type, document_type)
        document.document_type = document_type
    if not changes:
        return document
    with transaction.atomic():
        document.save(update_fields=[*changes, "updated_at"])
        if "title" in changes:
            passages_set_title(source_kind=Passage.SourceKind.DOCUMENT, source_id=document.pk, title=document.title)
        audit_record(
            actor=actor,
            action="document.update",
            target=document,
            data={field: {"from": old, "to": new} for field, (old, new) in changes.items()},
        )
    return document


class AlreadyQueued(Conflict):
    code = "already_queued"


def document_reprocess(*, document: Document, actor: User | None, limit_rate: bool = True) -> Document:
    """Run the pipeline again from the start; the old passages stay searchable until the
    new ones replace them in one transaction.

    Single-flight: a document already queued or processing answers 409 (unless it is stuck
    past INGEST_STUCK_MINUTES), checked under the row lock so that two requests at once
    queue one run. A person may ask RATE_LIMITS["reprocess"] times (THEO_REPROCESS_RATE) per user;
    the stuck-document job (actor None) and the admin's bulk action (limit_rate=False) are not."""
    with transaction.atomic():
        current = Document.objects.select_for_update().filter(pk=document.pk).first()
        if current is None:
            raise NotFound("This document no longer exists.")
        if not _is_stuck(current):
            if current.status == Document.Status.PROCESSING:
                raise Conflict(
                    "This document is being processed right now; wait until it finishes.", code="in_progress"
                )
            if current.status == Document.Status.QUEUED:
                raise AlreadyQueued("This document is already queued for processing; wait until it finishes.")
        if actor is not None and limit_rate:
            enforce_rate_limit(
                scope="reprocess",
                key=f"user:{actor.pk}",
                message="You have asked to reprocess documents too often; try again later.",
            )
        document.status = Document.Status.QUEUED
        document.stage = Document.Stage.QUEUED
        document.progress = 0
        document.progress_message = "Queued for processing"
        document.failure_reason = ""
        document.stage_log = []
        fields = ["status", "stage", "progress", "progress_message", "failure_reason", "stage_log", "updated_at"]
        if actor is not None:  # a person asked: a fresh start; the stuck-document job keeps counting
            document.attempts = 0
            fields.append("attempts")
        else:
            document.attempts = current.attempts
        document.save(update_fields=fields)
        audit_record(actor=actor, action="document.reprocess", target=document)
        _enqueue_ingestion(document)
        transaction.on_commit(lambda: realtime.broadcast(document.pk, realtime.progress_event(document)))
    return document


def _is_stuck(document: Document) -> bool:
    return document.updated_at < stuck_cutoff()


def documents_requeue_stuck() -> list[str]:
    """Beat: documents left "processing" (a worker lost mid-task) or "queued" (the broker
    lost the message) past the timeout are queued again."""
    stuck = Document.objects.filter(status__in=IN_PIPELINE, updated_at__lt=stuck_cutoff())
    requeued = []
    for document in stuck:
        if document.attempts >= limits.max_attempts():
            _give_up(document)
            continue
        document_reprocess(document=document, actor=None)
        requeued.append(str(document.pk))
    if requeued:
        logger.warning("documents_requeued", documents=requeued)
    return requeued


def _give_up(document: Document) -> None:
    document.status = Document.Status.FAILED
    document.failure_reason = limits.interrupted_reason(document.attempts)
    document.save(update_fields=["status", "failure_reason", "updated_at"])
    audit_record(actor=None, action="document.give_up", target=document, data={"attempts": document.attempts})
    transaction.on_commit(lambda: realtime.broadcast(document.pk, realtime.progress_event(document)))


def document_delete(*, document: Document, actor: User) -> None:
    """Delete the row; its passages, notes, shares and file go with it (see signals.py)."""
    with transaction.atomic():
        Document.objects.select_for_update().filter(pk=document.pk).first()  # waits for a passage swap
        audit_record(actor=actor, action="document.delete", target=document, data={"title": document.title})
        document_id = document.pk
        document.delete()
        transaction.on_commit(lambda: realtime.broadcast(document_id, realtime.deleted(document_id)))


# --- sharing --------------------------------------------------------------------------


def _sync_passage_access(document: Document) -> None:
    passages_set_access(
        source_kind=Passage.SourceKind.DOCUMENT, source_id=document.pk, access=passage_access_for(document)
    )


def document_share(*, document: Document, actor: User, email: str, permission: str) -> DocumentAccess:
    """Share with an approved user by e-mail (view or edit); sharing again changes the permission."""
    if permission not in DocumentAccess.Permission.values:
        raise ValidationFailed(details={"permission": ["Choose view or edit."]})
    recipient = User.objects.filter(email__iexact=(email or "").strip(), status=User.Status.APPROVED).first()
    if recipient is None:
        raise ValidationFailed(
            "There is no approved account with that e-mail address.",
            details={"email": ["There is no approved account with that e-mail address."]},
        )
    if recipient.pk == document.owner_id:
        raise ValidationFailed(details={"email": ["That is the owner of the document."]})
    with transaction.atomic():
        Document.objects.select_for_update().filter(pk=document.pk).first()  # serialise with a passage swap
        share, created = DocumentAccess.objects.update_or_create(
            document=document, user=recipient, defaults={"permission": permission, "created_by": actor}
        )
        _sync_passage_access(document)
        audit_record(
            actor=actor,
            action="document.share" if created else "document.share_update",
            target=document,
            data={"user": recipient.email, "permission": permission},
        )
    return share


def document_unshare(*, document: Document, actor: User, email: str) -> None:
    share = DocumentAccess.objects.filter(document=document, user__email__iexact=(email or "").strip()).first()
    if share is None:
        raise ValidationFailed(
            "This document is not shared with that e-mail address.",
            details={"email": ["This document is not shared with that e-mail address."]},
        )
    with transaction.atomic():
        Document.objects.select_for_update().filter(pk=document.pk).first()  # serialise with a passage swap
        share.delete()
        _sync_passage_access(document)
        audit_record(actor=actor, action="document.unshare", target=document, data={"user": share.user.email})
        revoked = realtime.access_revoked(share.user_id)
        transaction.on_commit(lambda: realtime.broadcast(document.pk, revoked))


# --- notes ----------------------------------------------------------------------------

NOTE_REFERENCE_MAX = cast(int, DocumentNote._meta.get_field("verse_reference").max_length)


def note_create(
    *,
    document: Document,
    author: User,
    body: str,
    passage_id: Any = None,
    page: int | None = None,
    verse_reference: str = "",
) -> DocumentNote:
    """A note anchored to a passage of this document or to one of its pages, optionally
    to a verse; broadcast live to the document room."""
    body = (body or "").strip()
    if not body:
        raise ValidationFailed(details={"body": ["Write something."]})
    if len(body) > 10000:
        raise ValidationFailed(details={"body": ["Keep notes under 10,000 characters."]})
    passage = None
    if passage_id:
        passage = document_passages(document=document).filter(pk=passage_id).first()
        if passage is None:
            raise ValidationFailed(details={"passage_id": ["No such passage in this document."]})
        page = page or passage.page_start
    if page is not None and document.page_count and not 1 <= page <= document.page_count:
        raise ValidationFailed(details={"page": [f"Pages run from 1 to {document.page_count}."]})
    canonical = ""
    if verse_reference.strip():
        try:
            canonical = "; ".join(r.canonical for r in scripture.parse_references(verse_reference))
        except scripture.ScriptureParseError as exc:
            raise ValidationFailed(details={"verse_reference": [str(exc)]}) from exc
        if len(canonical) > NOTE_REFERENCE_MAX:
            raise ValidationFailed(details={"verse_reference": ["Too many references for one note; split them."]})
    with transaction.atomic():
        note = DocumentNote.objects.create(
            document=document, author=author, passage=passage, page=page, verse_reference=canonical, body=body
        )
        audit_record(actor=author, action="document.note", target=document, data={"note_id": str(note.pk)})
        transaction.on_commit(lambda: _broadcast_note(note))
    return note


def _broadcast_note(note: DocumentNote) -> None:
    realtime.broadcast(note.document_id, realtime.note_created(realtime.note_payload(note)))
