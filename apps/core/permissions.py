from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission


class IsApproved(BasePermission):
    """The default: a signed-in, approved account (non-approved ones never authenticate)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_approved)


class IsStaff(IsApproved):
    message = "Only staff may do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return super().has_permission(request, view) and request.user.is_staff
