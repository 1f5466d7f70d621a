from __future__ import annotations

from typing import cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from apps.core.admin_actions import apply_to_each
from apps.documents import services
from apps.documents.models import INGESTION_FIELDS, Document, DocumentAccess, DocumentNote
from apps.users.models import User
from apps.users.requests import AuthenticatedHttpRequest


class DocumentAccessInline(admin.TabularInline):
    model = DocumentAccess
    extra = 0
    readonly_fields = ["user", "permission", "created_at"]
    fields = [*readonly_fields]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Document | None = None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    """Watch ingestion: status, stage, failures; reprocess from here."""

    list_display = [
        "title",
        "owner",
        "status",
        "stage",
        "failure",
        "progress",
        "file_type",
        "page_count",
        "passage_count",
        "created_at",
    ]
    list_filter = ["status", "stage", "file_type", "document_type"]
    search_fields = ["title", "original_filename", "owner__email", "sha256"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "owner",
        "file_type",
        "original_filename",
        "size_bytes",
        "sha256",
        *INGESTION_FIELDS,
        "attempts",
        "stage_log",
        "created_at",
        "updated_at",
        "processing_started_at",
        "completed_at",
    ]
    fields = ["title", "document_type", *readonly_fields]
    inlines = [DocumentAccessInline]
    actions = ["reprocess"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # documents arrive through the upload page or API, validated

    def save_model(self, request: HttpRequest, obj: Document, form: object, change: bool) -> None:
        fresh = Document.objects.get(pk=obj.pk)
        services.document_update(
            document=fresh, actor=cast(User, request.user), title=obj.title, document_type=obj.document_type
        )

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        services.document_delete(document=obj, actor=cast(User, request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for document in queryset:
            services.document_delete(document=document, actor=cast(User, request.user))

    @admin.display(description="Failure reason")
    def failure(self, document: Document) -> str:
        return Truncator(document.failure_reason).chars(90)

    @admin.action(description="Reprocess selected documents")
    def reprocess(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Document]) -> None:
        apply_to_each(
            request,
            queryset,
            lambda document: services.document_reprocess(document=document, actor=request.user, limit_rate=False),
            done="document(s) queued for processing",
            label=lambda document: document.title,
        )


@admin.register(DocumentNote)
class DocumentNoteAdmin(admin.ModelAdmin):
    list_display = ["document", "author", "page", "verse_reference", "created_at"]
    search_fields = ["body", "document__title", "author__email"]
    list_select_related = ["document", "author"]
    readonly_fields = ["document", "author", "passage", "page", "verse_reference", "body", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
