from __future__ import annotations

from rest_framework import serializers

from apps.core.models import AuditEvent


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
