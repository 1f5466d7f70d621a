"""Reads of the knowledge store, with its access rule.

admin: everything; power user: creates and manages own entries, reads approved ones;
user: reads approved ones; guest: nothing."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from apps.core.errors import NotFound, PermissionDenied
from apps.knowledge.models import KnowledgeEntry
from apps.users.selectors import user_is_approved


def can_read_knowledge(user: Any) -> bool:
    return user_is_approved(user) and not user.is_guest


def can_write_knowledge(user: Any) -> bool:
    return user_is_approved(user) and (user.is_staff or user.role == user.Role.POWER)


def entries_visible_to(user: Any) -> QuerySet[KnowledgeEntry]:
    if not can_read_knowledge(user):
        return KnowledgeEntry.objects.none()
    if user.is_staff:
        return KnowledgeEntry.objects.all()
    approved = Q(status=KnowledgeEntry.Status.APPROVED)
    if can_write_knowledge(user):
        return KnowledgeEntry.objects.filter(approved | Q(author=user))
    return KnowledgeEntry.objects.filter(approved)


def entry_get_for(*, user: Any, pk: Any, manage: bool = False) -> KnowledgeEntry:
    """The entry if `user` may read it (404 otherwise); with `manage`, 403 unless they may
    also change it (its author with a power role, or staff)."""
    entry = entries_visible_to(user).select_related("author", "reviewed_by").filter(pk=pk).first()
    if entry is None:
        raise NotFound("No such knowledge entry.")
    if manage and not entry_manageable_by(user, entry):
        raise PermissionDenied("Only the entry's author and staff may change it.")
    return entry


def entry_manageable_by(user: Any, entry: KnowledgeEntry) -> bool:
    return can_write_knowledge(user) and (user.is_staff or entry.author_id == user.pk)


def entries_list(
    *, user: Any, tag: str | None = None, status: str | None = None, q: str | None = None
) -> QuerySet[KnowledgeEntry]:
    """The entries `user` may read, newest change first; guests may not list the store."""
    if not can_read_knowledge(user):
        raise PermissionDenied("Guests have no access to the knowledge store.")
    entries = entries_visible_to(user).select_related("author")
    if tag:
        entries = entries.filter(tags__contains=[" ".join(tag.split()).lower()])
    if status:
        entries = entries.filter(status=status)
    if q:
        entries = entries.filter(Q(title__icontains=q) | Q(body__icontains=q) | Q(source__icontains=q))
    return entries.order_by("-updated_at", "-created_at")


def entry_tags(*, user: Any, limit: int = 30) -> list[tuple[str, int]]:
    """The most used tags among the entries `user` may read: (tag, number of entries)."""
    if not can_read_knowledge(user):
        return []
    # unnest() may not be grouped on directly, so count over the ORM's query of visible entries.
    sql, params = entries_visible_to(user).values("tags").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tag, count(*) FROM (SELECT unnest(visible.tags) AS tag FROM ({sql}) AS visible) AS t "
            "GROUP BY tag ORDER BY count(*) DESC, tag LIMIT %s",
            [*params, limit],
        )
        return [(tag, count) for tag, count in cursor.fetchall()]
