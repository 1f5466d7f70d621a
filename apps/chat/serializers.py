from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.chat.models import AIUsage, Conversation, Message, Persona


class PersonaPublicSerializer(serializers.ModelSerializer):
    """A persona as readers see it: what it is for, not its system prompt (staff's)."""

    class Meta:
        model = Persona
        fields = ["id", "name", "description", "tradition", "default_scope", "is_active"]
        read_only_fields = fields


class PersonaSerializer(serializers.ModelSerializer):
    """Staff: with the system prompt."""

    class Meta:
        model = Persona
        fields = [*PersonaPublicSerializer.Meta.fields, "system_prompt"]
        read_only_fields = ["id"]


class PersonaBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Persona
        fields = ["id", "name"]


class UsageSerializer(serializers.ModelSerializer):
    cost_usd = serializers.FloatField()

    class Meta:
        model = AIUsage
        fields = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd"]


class MessageSerializer(serializers.ModelSerializer):
    usage = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "role",
            "content",
            "citations",
            "degraded",
            "status",
            "error_code",
            "model",
            "usage",
            "created_at",
        ]

    def get_usage(self, message: Message) -> dict[str, Any] | None:
        usage = getattr(message, "usage", None)
        return UsageSerializer(usage).data if usage is not None else None


class ConversationSerializer(serializers.ModelSerializer):
    persona = PersonaBriefSerializer(read_only=True, allow_null=True)
    message_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Conversation
        fields = ["id", "title", "persona", "scope", "document_id", "message_count", "created_at", "updated_at"]


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, source="messages_in_order")

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]


class ConversationWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    persona_id = serializers.UUIDField(required=False, allow_null=True)
    scope = serializers.ChoiceField(choices=Conversation.Scope.choices, required=False)
    document_id = serializers.UUIDField(required=False, allow_null=True)


class AskSerializer(serializers.Serializer):
    content = serializers.CharField(trim_whitespace=False, allow_blank=True)
