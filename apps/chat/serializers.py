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
            "sources",
            "search_query",
            "degraded",
            "status",
            "error_code",
            "model",
            "usage",
            "created_at",
        ]

    def get_usage(self, message: Message) -> dict[str, Any] | None:
        """The answer's usage plus that of the calls made for it (rewrite, rerank)."""
        rows = list(message.usages.all())  # prefetched by the selectors
        if not rows:
            return None
        totals = {name: sum(getattr(row, name) for row in rows) for name in UsageSerializer.Meta.fields}
        return {**totals, "cost_usd": float(totals["cost_usd"])}


class ConversationSerializer(serializers.ModelSerializer):
    persona = PersonaBriefSerializer(read_only=True, allow_null=True)
    message_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Conversation
        fields = ["id", "title", "persona", "scope", "document_id", "message_count", "created_at", "updated_at"]


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True)  # conversation_get_for(with_messages=True): in order, prefetched
    message_count = serializers.SerializerMethodField()  # type: ignore[assignment]  # DRF: a field replaces the inherited one

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]

    def get_message_count(self, conversation: Conversation) -> int:
        return len(conversation.messages.all())  # the prefetched messages: no query


class ConversationWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    persona_id = serializers.UUIDField(required=False, allow_null=True)
    scope = serializers.ChoiceField(choices=Conversation.Scope.choices, required=False)
    document_id = serializers.UUIDField(required=False, allow_null=True)


class AskSerializer(serializers.Serializer):
    content = serializers.CharField(trim_whitespace=False, allow_blank=True)


# --- AI usage (GET /api/v1/usage/) ---------------------------------------------------------


class UsageParams(serializers.Serializer):
    period = serializers.ChoiceField(choices=["day", "month"], default="day")
    days = serializers.IntegerField(min_value=1, max_value=366, default=30)


class UsagePeriodSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM-DD (day) or YYYY-MM (month)")
    answers = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cache_read_tokens = serializers.IntegerField()
    cache_write_tokens = serializers.IntegerField()
    cost_usd = serializers.FloatField()


class UsageUserSerializer(UsagePeriodSerializer):
    period = None  # type: ignore[assignment]  # DRF: None removes an inherited field
    user_id = serializers.UUIDField()
    email = serializers.EmailField()


class BudgetSerializer(serializers.Serializer):
    monthly_budget_usd = serializers.FloatField()
    spent_this_month_usd = serializers.FloatField()
    remaining_usd = serializers.FloatField()


class UsageResponseSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=["day", "month"])
    since = serializers.DateField()
    covers = serializers.ChoiceField(choices=["you", "everyone"])
    budget = BudgetSerializer()
    results = UsagePeriodSerializer(many=True)
    users = UsageUserSerializer(many=True, required=False, help_text="Staff only: totals per user")
