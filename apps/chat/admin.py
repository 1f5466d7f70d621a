from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest

from apps.chat.models import AIUsage, Conversation, Persona
from apps.core.admin_actions import ViewOnlyAdmin
from apps.core.services import audit_record


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    """Staff write the personas readers choose per conversation."""

    list_display = ["name", "tradition", "default_scope", "is_active", "sort_order", "updated_at"]
    list_editable = ["is_active", "sort_order"]
    list_filter = ["is_active", "default_scope", "tradition"]
    search_fields = ["name", "description", "system_prompt"]

    def save_model(self, request: HttpRequest, obj: Persona, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(actor=request.user, action=f"chat.persona.{'update' if change else 'create'}", target=obj)


@admin.register(Conversation)
class ConversationAdmin(ViewOnlyAdmin):
    """Who chats, with which persona and scope, how much: never what. Titles (the first
    question) and messages are their owner's alone and are not shown here at all, so there
    is nothing to audit; a staff member reads a conversation only if its owner shows it."""

    list_display = ["id", "owner", "persona", "scope", "messages", "created_at", "updated_at"]
    list_filter = ["scope", "persona"]
    search_fields = ["owner__email"]
    list_select_related = ["owner", "persona"]
    fields = ["id", "owner", "persona", "scope", "document_id", "messages", "created_at", "updated_at"]
    readonly_fields = ["id", "owner", "persona", "scope", "document_id", "messages", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return super().get_queryset(request).annotate(message_total=Count("messages"))

    @admin.display(ordering="message_total")
    def messages(self, conversation: Conversation) -> int:
        return conversation.message_total  # type: ignore[attr-defined]


@admin.register(AIUsage)
class AIUsageAdmin(ViewOnlyAdmin):
    """Every answer's tokens and cost; the totals of the filtered rows head the list."""

    list_display = [
        "created_at",
        "user",
        "kind",
        "model",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_usd",
        "degraded",
    ]
    list_filter = ["kind", "model", "degraded", "created_at"]
    search_fields = ["user__email", "model"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AIUsage._meta.fields]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        response: Any = super().changelist_view(request, extra_context)  # a TemplateResponse when it lists
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            totals = changelist.queryset.aggregate(
                input_tokens=Sum("input_tokens"),
                output_tokens=Sum("output_tokens"),
                cache_read_tokens=Sum("cache_read_tokens"),
                cache_write_tokens=Sum("cache_write_tokens"),
                cost_usd=Sum("cost_usd"),
                answers=Count("id", filter=Q(kind=AIUsage.Kind.ANSWER)),
            )
            response.context_data["title"] = (
                f"AI usage — {totals['answers']} answers, ${totals['cost_usd'] or 0:.4f}, "
                f"{totals['input_tokens'] or 0:,} in / {totals['output_tokens'] or 0:,} out tokens"
            )
        return response
