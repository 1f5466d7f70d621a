"""Writes to the passage index. Sources (documents, knowledge entries, the Bible) hand
over plain data; the index never looks back at them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from apps.knowledge.models import Passage


@dataclass
class PassageData:
    chunk_index: int
    text: str
    embedding: Sequence[float] | None
    page_start: int | None = None
    page_end: int | None = None
    reference: str = ""
    scripture_references: list[str] = field(default_factory=list)
    verse_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class PassageAccess:
    visibility: str
    owner_id: uuid.UUID | None = None
    shared_with: tuple[uuid.UUID, ...] = ()


def passages_replace_for_source(
    *,
    source_kind: str,
    source_id: uuid.UUID,
    title: str,
    passages: Sequence[PassageData],
    access: PassageAccess,
    embedding_model: str,
) -> int:
    """Atomically swap all passages of one source: readers see the old set or the new one,
    never a mix, and a re-run never duplicates (UNIQUE source + chunk index)."""
    rows = [
        Passage(
            source_kind=source_kind,
            source_id=source_id,
            chunk_index=p.chunk_index,
            title=title[:300],
            text=p.text,
            embedding=p.embedding,
            embedding_model=embedding_model if p.embedding is not None else "",
            page_start=p.page_start,
            page_end=p.page_end,
            reference=p.reference,
            scripture_references=p.scripture_references,
            verse_ids=p.verse_ids,
            visibility=access.visibility,
            owner_id=access.owner_id,
            shared_with=list(access.shared_with),
        )
        for p in passages
    ]
    with transaction.atomic():
        Passage.objects.filter(source_kind=source_kind, source_id=source_id).delete()
        Passage.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def passages_delete_for_source(*, source_kind: str, source_id: uuid.UUID) -> int:
    deleted, _ = Passage.objects.filter(source_kind=source_kind, source_id=source_id).delete()
    return deleted


def passages_set_access(*, source_kind: str, source_id: uuid.UUID, access: PassageAccess) -> int:
    """Keep the access fields current (call in the transaction that changes the source's access)."""
    return Passage.objects.filter(source_kind=source_kind, source_id=source_id).update(
        visibility=access.visibility, owner_id=access.owner_id, shared_with=list(access.shared_with)
    )


def passages_set_title(*, source_kind: str, source_id: uuid.UUID, title: str) -> int:
    return Passage.objects.filter(source_kind=source_kind, source_id=source_id).update(title=title[:300])


def passages_set_references(*, updates: dict[uuid.UUID, tuple[list[str], list[int]]]) -> None:
    """Per passage id: (canonical reference strings, verse ids)."""
    passages = list(Passage.objects.filter(pk__in=updates).only("id"))
    for passage in passages:
        passage.scripture_references, passage.verse_ids = updates[passage.pk]
    Passage.objects.bulk_update(passages, ["scripture_references", "verse_ids"], batch_size=500)
