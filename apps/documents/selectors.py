"""Reads of documents, with the access rule in one place.

Who may do what with a document:
- the owner: everything;
- staff: everything (admins see all documents);
- a share with "edit": read, download, search, chat, rename, reprocess, write notes;
- a share with "view": read, download, search, chat, read notes;
- guests: at most view, whatever the share says;
- everyone else: the document does not exist for them (404, never 403).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from apps.core.errors import NotFound, PermissionDenied
from apps.documents.models import Document, DocumentAccess, DocumentNote
from apps.index.models import Passage
from apps.index.selectors import PassageAccess
from apps.users.selectors import user_is_approved


class Access(IntEnum):
    NONE = 0
    VIEW = 1
    EDIT = 2
    OWNER = 3


NEEDS = {
    Access.EDIT: "Only the owner and people it is shared with for editing may do this.",
    Access.OWNER: "Only the owner may do this.",
}


def documents_visible_to(user: Any) -> QuerySet[Document]:
    """Own and shared documents, for staff too: their moderation happens in the admin
    console, never by reading a private document through the pages or the API."""
    if not user_is_approved(user):
        return Document.objects.none()
    shared = DocumentAccess.objects.filter(user=user).values("document_id")
    return Document.objects.filter(Q(owner=user) | Q(pk__in=shared))


def with_share_permission(documents: QuerySet[Document], user: Any) -> QuerySet[Document]:
    """Annotate `share_permission` (the user's share, if any) without a query per row."""
    share = DocumentAccess.objects.filter(document=OuterRef("pk"), user=user).values("permission")[:1]
    return documents.annotate(share_permission=Subquery(share))


def access_level(user: Any, document: Document) -> Access:
    if not user_is_approved(user):
        return Access.NONE
    if document.owner_id == user.pk:
        return Access.OWNER
    permission = getattr(document, "share_permission", None)
    if permission is None:
        permission = (
            DocumentAccess.objects.filter(document=document, user=user).values_list("permission", flat=True).first()
        )
    if permission is None:
        return Access.NONE
    if permission == DocumentAccess.Permission.EDIT and not user.is_guest:
        return Access.EDIT
    return Access.VIEW


@dataclass(frozen=True)
class DocumentWithAccess:
    """A document and what the user who asked for it may do with it."""

    document: Document
    access: Access


def document_with_access_for(*, user: Any, pk: Any, need: Access = Access.VIEW) -> DocumentWithAccess:
    """The document if `user` may do what `need` says: 404 if they may not see it at all,
    403 if they see it but may not do this."""
    document = with_share_permission(documents_visible_to(user), user).select_related("owner").filter(pk=pk).first()
    if document is None:
        raise NotFound("No such document.")
    level = access_level(user, document)
    if level < need:
        raise PermissionDenied(NEEDS[need])
    return DocumentWithAccess(document=document, access=level)


def document_get_for(*, user: Any, pk: Any, need: Access = Access.VIEW) -> Document:
    """document_with_access_for, for callers that need only the document."""
    return document_with_access_for(user=user, pk=pk, need=need).document


def documents_with_access(*, user: Any, documents: Iterable[Document]) -> list[DocumentWithAccess]:
    """Each document (from documents_list: the share is annotated, no query per row) with the user's access."""
    return [DocumentWithAccess(document=document, access=access_level(user, document)) for document in documents]


def documents_list(*, user: Any, status: str | None = None, q: str | None = None) -> QuerySet[Document]:
    documents = with_share_permission(documents_visible_to(user), user).select_related("owner")
    if status:
        documents = documents.filter(status=status)
    if q:
        documents = documents.filter(Q(title__icontains=q) | Q(original_filename__icontains=q))
    return documents.order_by("-created_at")


def document_passages(*, document: Document) -> QuerySet[Passage]:
    return Passage.objects.filter(source_kind=Passage.SourceKind.DOCUMENT, source_id=document.pk).order_by(
        "chunk_index"
    )


def document_notes(*, document: Document) -> QuerySet[DocumentNote]:
    return document.notes.select_related("author").order_by("created_at")


def document_shares(*, document: Document) -> QuerySet[DocumentAccess]:
    return document.shares.select_related("user").order_by("created_at")


def passage_access_for(document: Document) -> PassageAccess:
    """The access fields every passage of the document carries (see knowledge.models)."""
    shared_with = tuple(document.shares.values_list("user_id", flat=True))
    return PassageAccess(visibility=Passage.Visibility.PRIVATE, owner_id=document.owner_id, shared_with=shared_with)


def storage_used_by(*, user: Any) -> int:
    """Bytes of stored files the user owns (what THEO_USER_QUOTA_MB counts)."""
    return Document.objects.filter(owner=user).aggregate(used=Sum("size_bytes"))["used"] or 0


# Documents not yet completed or failed: waiting for a worker or in its hands.
IN_PIPELINE = (Document.Status.QUEUED, Document.Status.PROCESSING)


def stuck_cutoff() -> datetime:
    """A document in the pipeline last updated before this is stuck (THEO_INGEST_STUCK_MINUTES):
    the beat job re-queues it, reprocessing accepts it, the Jobs page marks it."""
    return timezone.now() - timedelta(minutes=settings.INGEST_STUCK_MINUTES)
