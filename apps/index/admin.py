"""The passage index in the admin: read-only, for staff to inspect what search sees."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin_actions import ViewOnlyAdmin
from apps.index.models import Passage


@admin.register(Passage)
class PassageAdmin(ViewOnlyAdmin):
    """What the index holds, for staff to inspect; sources keep it current, never the admin."""

    list_display = ["title", "source_kind", "reference", "page_start", "translation", "embedding_model"]
    list_filter = ["source_kind", "translation", "visibility"]
    search_fields = ["title", "reference"]
    show_full_result_count = False  # the Bibles alone are ~60,000 rows per translation
    readonly_fields = [
        "id",
        "source_kind",
        "source_id",
        "chunk_index",
        "title",
        "text",
        "page_start",
        "page_end",
        "reference",
        "translation",
        "scripture_references",
        "visibility",
        "owner_id",
        "shared_with",
        "embedding_model",
        "created_at",
    ]
    fields = [*readonly_fields]

    def has_delete_permission(self, request: HttpRequest, obj: Passage | None = None) -> bool:
        return False
