"""The one access rule for passages (DESIGN.md): a passage is visible when it is Bible
text; or it comes from an approved knowledge entry and the user is not a guest; or the user
owns the entry or the document; or the document is shared with the user. Staff retrieve like
everyone else (DESIGN's role table: "own + shared in search and chat"): other people's
private documents never reach a staff member's search results or Claude prompts; their
moderation happens in the admin. The rule is a predicate on the passage table itself, so
every search applies it in SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from apps.index.models import Passage
from apps.users.selectors import user_is_approved


@dataclass(frozen=True)
class PassageAccess:
    """Who may read a source's passages; the source hands it to the index on every write."""

    visibility: str
    owner_id: uuid.UUID | None = None
    shared_with: tuple[uuid.UUID, ...] = ()


def passage_visibility_q(user: Any) -> Q:
    """The access rule as a Q object (for querysets that are not plain passage lists)."""
    if not user_is_approved(user):
        return Q(pk__in=[])
    visible = Q(visibility=Passage.Visibility.PUBLIC) | Q(owner_id=user.pk) | Q(shared_with__contains=[user.pk])
    if not user.is_guest:
        visible |= Q(visibility=Passage.Visibility.MEMBERS)
    return visible


def visible_passages(user: Any) -> QuerySet[Passage]:
    return Passage.objects.filter(passage_visibility_q(user))
