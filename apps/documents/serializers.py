from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from apps.documents.models import INGESTION_FIELDS, Document, DocumentAccess, DocumentNote
from apps.documents.selectors import access_level
from apps.index.models import Passage


class PersonSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    display_name = serializers.CharField(read_only=True)


class DocumentSerializer(serializers.ModelSerializer):
    owner = PersonSerializer(read_only=True)
    access = serializers.SerializerMethodField(help_text="owner, edit or view: what you may do with it")
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "title",
            "document_type",
            "file_type",
            "original_filename",
            "size_bytes",
            *INGESTION_FIELDS,
            "owner",
            "access",
            "file_url",
            "created_at",
            "updated_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_access(self, document: Document) -> str:
        return access_level(self.context["request"].user, document).name.lower()

    def get_file_url(self, document: Document) -> str:
        return reverse("api-document-file", args=[document.pk])


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text="PDF, DOCX, TXT, Markdown or HTML")
    title = serializers.CharField(max_length=300, required=False, allow_blank=True)
    document_type = serializers.ChoiceField(choices=Document.DocumentType.choices, default="theological")


class DocumentUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300, required=False)
    document_type = serializers.ChoiceField(choices=Document.DocumentType.choices, required=False)


class PassageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Passage
        fields = [
            "id",
            "chunk_index",
            "page_start",
            "page_end",
            "page_label",
            "section",
            "text",
            "scripture_references",
        ]
        read_only_fields = fields


class NoteSerializer(serializers.ModelSerializer):
    author = PersonSerializer(read_only=True, allow_null=True)
    passage_id = serializers.UUIDField(read_only=True, allow_null=True)
    document_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = DocumentNote
        fields = ["id", "document_id", "body", "page", "passage_id", "verse_reference", "author", "created_at"]
        read_only_fields = fields


class NoteCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10000)
    passage_id = serializers.UUIDField(required=False, allow_null=True)
    page = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    verse_reference = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ShareSerializer(serializers.ModelSerializer):
    user = serializers.SerializerMethodField()

    class Meta:
        model = DocumentAccess
        fields = ["user", "permission", "created_at"]
        read_only_fields = fields

    def get_user(self, share: DocumentAccess) -> dict[str, Any]:
        return {"id": str(share.user_id), "email": share.user.email, "display_name": share.user.display_name}


class ShareCreateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    permission = serializers.ChoiceField(choices=DocumentAccess.Permission.choices, default="view")


class ShareDeleteSerializer(serializers.Serializer):
    email = serializers.EmailField()
