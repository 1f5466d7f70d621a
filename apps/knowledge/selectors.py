"""Reads of the passage index and the knowledge store, with their access rules.

The one rule for passages (DESIGN.md): a passage is visible when it is Bible text; or it
comes from an approved knowledge entry and the user is not a guest; or the user owns the
entry or the document; or the document is shared with the user. Staff retrieve like
everyone else (DESIGN's role table: "own + shared in search and chat"): other people's
private documents never reach a staff member's search results or Claude prompts; their
moderation happens in the admin. The rule is a predicate on the passage table itself, so
every search applies it in SQL.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from apps.core.errors import NotFound, PermissionDenied
from apps.knowledge.models import KnowledgeEntry, Passage


def _approved(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_approved)


def passage_visibility_q(user: Any) -> Q:
    """The access rule as a Q object (for querysets that are not plain passage lists)."""
    if not _approved(user):
        return Q(pk__in=[])
    visible = Q(visibility=Passage.Visibility.PUBLIC) | Q(owner_id=user.pk) | Q(shared_with__contains=[user.pk])
    if not user.is_guest:
        visible |= Q(visibility=Passage.Visibility.MEMBERS)
    return visible


def visible_passages(user: Any) -> QuerySet[Passage]:
    return Passage.objects.filter(passage_visibility_q(user))


# --- knowledge entries --------------------------------------------------------------------
# admin: everything; power user: creates and manages own entries, reads approved ones;
# user: reads approved ones; guest: nothing.


def can_read_knowledge(user: Any) -> bool:
    return _approved(user) and not user.is_guest


def can_write_knowledge(user: Any) -> bool:
    return _approved(user) and (user.is_staff or user.role == user.Role.POWER)


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
