"""Accounts a benchmark creates for itself, named `<prefix><n>@theo.invalid`, and their
removal afterwards (conversations, messages and usage go with the users)."""

from __future__ import annotations

from typing import Any

EMAIL_DOMAIN = "@theo.invalid"


def bench_users(prefix: str) -> Any:
    from apps.users.models import User

    return User.objects.filter(email__startswith=prefix, email__endswith=EMAIL_DOMAIN)


def delete_bench_rows(prefix: str) -> int:
    """Delete the bench users and the audit events they caused; returns how many users."""
    from apps.core.models import AuditEvent

    users = bench_users(prefix)
    ids = [str(pk) for pk in users.values_list("pk", flat=True)]
    AuditEvent.objects.filter(actor_email__startswith=prefix, actor_email__endswith=EMAIL_DOMAIN).delete()
    AuditEvent.objects.filter(target_id__in=ids).delete()
    users.delete()
    return len(ids)
