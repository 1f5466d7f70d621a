"""Reads of accounts. Only staff views call these (IsStaff), so no per-user rule applies."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet

from apps.core.errors import NotFound, ValidationFailed
from apps.users.models import User


def user_is_approved(user: Any) -> bool:
    """A signed-in, approved account: the first condition of every read of user data."""
    return bool(user and user.is_authenticated and user.is_approved)


def users_list(*, status: str | None = None, role: str | None = None, q: str | None = None) -> QuerySet[User]:
    users = User.objects.all().order_by("-date_joined")
    if status:
        if status not in User.Status.values:
            raise ValidationFailed(details={"status": [f"Must be one of: {', '.join(User.Status.values)}."]})
        users = users.filter(status=status)
    if role:
        if role not in User.Role.values:
            raise ValidationFailed(details={"role": [f"Must be one of: {', '.join(User.Role.values)}."]})
        users = users.filter(role=role)
    if q:
        users = users.filter(Q(email__icontains=q) | Q(display_name__icontains=q))
    return users


def user_get(*, pk: UUID | str) -> User:
    user = User.objects.filter(pk=pk).first()
    if user is None:
        raise NotFound("No such user.")
    return user
