"""Curating the knowledge store from the admin (every change through the services, so it
is audited and the passages' access follows), and a read-only view of the passage index."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.postgres.forms import SimpleArrayField
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.core.admin_actions import apply_to_each, apply_with_reason
from apps.core.errors import TheoError
from apps.knowledge import services
from apps.knowledge.models import KnowledgeEntry


class EntryAdminForm(forms.ModelForm):
    tags = SimpleArrayField(
        forms.CharField(required=False),
        required=False,
        help_text="Separated by commas; stored lower-case, without duplicates.",
    )

    class Meta:
        model = KnowledgeEntry
        fields = ["title", "body", "tags", "source", "status"]

    def clean_tags(self) -> list[str]:
        """Refuse here, on the form, what the service would refuse."""
        try:
            return services.entry_clean_tags(self.cleaned_data["tags"])
        except TheoError as exc:
            raise forms.ValidationError(exc.details.get("tags", [exc.message])) from exc

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if self.instance._state.adding and status == KnowledgeEntry.Status.REJECTED:
            raise forms.ValidationError("A new entry cannot start out rejected.")
        return status


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=services.REASON_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Shown to the author on the entry.",
    )


@admin.register(KnowledgeEntry)
class KnowledgeEntryAdmin(admin.ModelAdmin):
    form = EntryAdminForm
    list_display = ["title", "status", "author", "tag_list", "updated_at"]
    list_filter = ["status"]
    search_fields = ["title", "body", "source", "author__email"]
    list_select_related = ["author"]
    date_hierarchy = "updated_at"
    readonly_fields = ["id", "author", "reviewed_by", "reviewed_at", "review_note", "created_at", "updated_at"]
    fields = ["title", "body", "tags", "source", "status", *readonly_fields]
    actions = ["approve", "reject"]

    @admin.display(description="Tags")
    def tag_list(self, entry: KnowledgeEntry) -> str:
        return ", ".join(entry.tags)

    def save_model(self, request: HttpRequest, obj: KnowledgeEntry, form: Any, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in ["title", "body", "tags", "source", "status"]}
        try:
            if change:
                services.entry_update(entry=KnowledgeEntry.objects.get(pk=obj.pk), actor=request.user, **data)
            else:
                obj.pk = services.entry_create(author=request.user, **data).pk
        except TheoError as exc:
            messages.error(request, exc.message)

    def delete_model(self, request: HttpRequest, obj: KnowledgeEntry) -> None:
        services.entry_delete(entry=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[KnowledgeEntry]) -> None:
        for entry in queryset:
            services.entry_delete(entry=entry, actor=request.user)

    @admin.action(description="Approve selected entries")
    def approve(self, request: HttpRequest, queryset: QuerySet[KnowledgeEntry]) -> None:
        apply_to_each(
            request,
            queryset,
            lambda entry: services.entry_approve(entry=entry, actor=request.user),
            done="entry(ies) approved",
            label=lambda entry: entry.title,
        )

    @admin.action(description="Reject selected entries (with a reason)…")
    def reject(self, request: HttpRequest, queryset: QuerySet[KnowledgeEntry]) -> HttpResponse | None:
        """Intermediate page asking for the reason, then the service for each entry."""
        return apply_with_reason(
            self,
            request,
            queryset,
            form_class=ReasonForm,
            action="reject",
            title="Reject entries",
            change=lambda entry, reason: services.entry_reject(entry=entry, actor=request.user, reason=reason),
            done="entry(ies) rejected",
            describe=lambda entry: (
                f"{entry.title} ({entry.get_status_display()}"
                + (f", by {entry.author.email})" if entry.author else ")")
            ),
            label=lambda entry: entry.title,
        )
