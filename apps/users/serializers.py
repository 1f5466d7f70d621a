from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from rest_framework import serializers

from apps.users.models import User


def password_min_length() -> int:
    """The length AUTH_PASSWORD_VALIDATORS asks for, so the schema says it too."""
    validators = cast(list[dict[str, Any]], settings.AUTH_PASSWORD_VALIDATORS)
    for validator in validators:
        if validator["NAME"].endswith(".MinimumLengthValidator"):
            return int(validator.get("OPTIONS", {}).get("min_length", 8))
    return 1


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        write_only=True, min_length=password_min_length(), max_length=128, style={"input_type": "password"}
    )
    display_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


class CredentialsSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshTokenSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class UserSerializer(serializers.ModelSerializer):
    """The signed-in account (GET /api/v1/auth/me/)."""

    is_staff = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "display_name", "role", "status", "monthly_budget_usd", "is_staff", "date_joined"]
        read_only_fields = ["id", "email", "role", "status", "monthly_budget_usd", "is_staff", "date_joined"]


class AdminUserSerializer(serializers.ModelSerializer):
    is_staff = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "display_name",
            "role",
            "status",
            "denial_reason",
            "monthly_budget_usd",
            "is_staff",
            "date_joined",
            "status_changed_at",
            "last_login",
        ]
        read_only_fields = fields


class AdminUserUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=User.Role.choices, required=False)
    status = serializers.ChoiceField(choices=User.Status.choices, required=False)
    monthly_budget_usd = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0"), required=False
    )
    display_name = serializers.CharField(max_length=150, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class DenySerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
