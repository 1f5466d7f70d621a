from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.knowledge.models import KnowledgeEntry
from apps.knowledge.selectors import entry_manageable_by
from apps.knowledge.services import (
    BODY_MAX_CHARS,
    MAX_TAGS,
    REASON_MAX_CHARS,
    SOURCE_MAX_CHARS,
    TAG_MAX_CHARS,
    TITLE_MAX_CHARS,
)

AUTHOR_STATUSES_HELP = "draft or submitted; staff may also set approved or rejected"


class EntryStatusField(serializers.ChoiceField):
    """draft, submitted, approved or rejected (KnowledgeEntryStatusEnum in the schema)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=KnowledgeEntry.Status.choices, **kwargs)


class AuthorSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    display_name = serializers.SerializerMethodField()

    def get_display_name(self, author: Any) -> str:
        return author.display_name or author.email


class EntrySerializer(serializers.ModelSerializer):
    author = AuthorSerializer(read_only=True, allow_null=True)
    status = EntryStatusField(read_only=True)
    can_edit = serializers.SerializerMethodField(help_text="Whether you may edit, submit or delete it")

    class Meta:
        model = KnowledgeEntry
        fields = [
            "id",
            "title",
            "body",
            "tags",
            "source",
            "status",
            "author",
            "reviewed_at",
            "review_note",
            "created_at",
            "updated_at",
            "can_edit",
        ]
        read_only_fields = fields

    def get_can_edit(self, entry: KnowledgeEntry) -> bool:
        return entry_manageable_by(self.context["request"].user, entry)


def tags_field() -> serializers.ListField:
    """Checked by the service (one rule for the API, the pages and the admin)."""
    return serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=f"Up to {MAX_TAGS} tags of up to {TAG_MAX_CHARS} characters; stored lower-case, without duplicates",
    )


class EntryCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX_CHARS)
    body = serializers.CharField(max_length=BODY_MAX_CHARS)
    tags = tags_field()
    source = serializers.CharField(  # type: ignore[assignment]  # a field named like Field.source
        max_length=SOURCE_MAX_CHARS, required=False, allow_blank=True
    )
    status = EntryStatusField(required=False, help_text=f"Default draft; {AUTHOR_STATUSES_HELP}")


class EntryUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX_CHARS, required=False)
    body = serializers.CharField(max_length=BODY_MAX_CHARS, required=False)
    tags = tags_field()
    source = serializers.CharField(  # type: ignore[assignment]  # a field named like Field.source
        max_length=SOURCE_MAX_CHARS, required=False, allow_blank=True
    )
    status = EntryStatusField(required=False, help_text=AUTHOR_STATUSES_HELP)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX_CHARS, help_text="Why, for the author")
