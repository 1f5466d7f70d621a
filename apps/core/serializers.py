from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.errors import ValidationFailed
from apps.core.models import AuditEvent


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """The serializer's validated data, or ValidationFailed naming each bad field (a
    TheoError, so pages can show it as well as the API)."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationFailed(details=serializer.errors)
    return serializer.validated_data


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
