from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.errors import ValidationFailed, check_choice
from apps.core.models import AuditEvent


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """The serializer's validated data, or ValidationFailed naming each bad field (a
    TheoError, so pages can show it as well as the API)."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationFailed(details=serializer.errors)
    return serializer.validated_data


def query_choice(request: Any, name: str, choices: list[str]) -> str | None:
    """The query parameter `name` if given (ValidationFailed unless it is one of `choices`), else None."""
    value = request.query_params.get(name) or None
    if value is not None:
        check_choice(name, value, choices)
    return value


class AuditEventSerializer(serializers.ModelSerializer):
    actor_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor_id",
            "actor_email",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "data",
            "ip_address",
            "request_id",
        ]
        read_only_fields = fields


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable code (docs/api.md lists them), e.g. validation_error")
    message = serializers.CharField(help_text="What happened and what to do, for people")
    details = serializers.DictField(help_text="More about it, e.g. field -> messages; {} when there is nothing more")


class ErrorSerializer(serializers.Serializer):
    """Every error the API answers, whatever its status (apps.core.errors)."""

    error = ErrorBodySerializer()
