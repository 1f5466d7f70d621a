"""The staff Jobs page in the admin (/admin/jobs/): what Flower shows of Celery, plus the
documents and Bibles behind the queues, with a Retry for each stuck or failed document.

Wrapped in admin.site.admin_view in theo/urls.py: staff only (others get the admin login),
CSRF-protected, never cached."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import TheoError
from apps.documents import services
from apps.documents.jobs import jobs_overview
from apps.documents.models import Document
from apps.users.requests import AuthenticatedHttpRequest


@require_GET
def jobs_page(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": "Jobs",
        "jobs": jobs_overview(),
    }
    return TemplateResponse(request, "admin/jobs.html", context)


@require_POST
def job_retry(request: AuthenticatedHttpRequest, pk: Any) -> HttpResponse:
    """Run a stuck or failed document's pipeline again (audited as document.reprocess; the
    service refuses a document still making progress)."""
    document = get_object_or_404(Document, pk=pk)
    try:
        services.document_reprocess(document=document, actor=request.user, limit_rate=False)
    except TheoError as exc:
        messages.error(request, f"{document.title}: {exc.message}")
    else:
        messages.success(request, f"{document.title}: queued for processing again.")
    return HttpResponseRedirect(reverse("admin-jobs"))
