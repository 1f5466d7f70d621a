"""Document pages: the library (list + upload) and one document (live progress, presence,
passages, notes, sharing). Both use the API from the browser for writes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.core.pages import error_pages
from apps.documents import limits, selectors
from apps.documents.models import Document
from apps.documents.selectors import Access
from apps.documents.serializers import DocumentSerializer
from apps.users.requests import AuthenticatedHttpRequest

PAGE_SIZE = 20


@login_required
def document_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    if status not in Document.Status.values:
        status = None
    documents = selectors.documents_list(user=request.user, status=status, q=request.GET.get("q") or None)
    page = Paginator(documents, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "documents/list.html",
        {
            "page": page,
            "rows": selectors.documents_with_access(user=request.user, documents=page.object_list),
            "status": status or "",
            "q": request.GET.get("q", ""),
            "statuses": Document.Status.choices,
            "can_upload": not request.user.is_guest,
            "max_upload_mb": settings.MAX_UPLOAD_MB,
            "document_types": Document.DocumentType.choices,
            "quota": _quota(request.user),
        },
    )


def _quota(user: Any) -> dict[str, Any] | None:
    """What the upload panel shows of THEO_USER_QUOTA_MB (None: no quota)."""
    limit = limits.quota_bytes()
    if not limit or user.is_guest:
        return None
    used = selectors.storage_used_by(user=user)
    return {
        "used_mb": f"{used / (1024 * 1024):.1f}",
        "limit_mb": settings.USER_QUOTA_MB,
        "percent": min(100, round(100 * used / limit)),
        "full": used >= limit,
    }


@login_required
@error_pages()
def document_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    found = selectors.document_with_access_for(user=request.user, pk=pk)
    document, access = found.document, found.access
    passages = Paginator(selectors.document_passages(document=document), PAGE_SIZE).get_page(
        request.GET.get("page") or _page_of_passage(document, request.GET.get("passage"))
    )
    context = {
        "document": document,
        "document_json": DocumentSerializer(document, context={"request": request}).data,
        "passages": passages,
        "notes": selectors.document_notes(document=document),
        "shares": selectors.document_shares(document=document) if access >= Access.OWNER else [],
        "can_edit": access >= Access.EDIT,
        "is_owner": access >= Access.OWNER,
        "stages": [choice for choice in Document.Stage.choices if choice[0] not in ("queued", "done")],
        "done_stages": [entry["stage"] for entry in document.stage_log],
    }
    return render(request, "documents/detail.html", context)


def _page_of_passage(document: Document, passage_id: str | None) -> int:
    """Search results link to a passage (?passage=<id>): open the page of the list that holds it."""
    try:
        passage = selectors.document_passages(document=document).filter(pk=passage_id).first() if passage_id else None
    except ValidationError:  # not a UUID
        passage = None
    return passage.chunk_index // PAGE_SIZE + 1 if passage else 1
