"""Building passages for search tests: real embeddings from the configured model, unique
marker words so tests sharing the database never see each other's rows by accident."""

from __future__ import annotations

import uuid
from typing import Any

from apps.bible.scripture import find_references, verse_ids_of
from apps.index.embeddings import embed_texts, model_name
from apps.index.models import Passage


def marker() -> str:
    """A word no other row contains (letters only, so full-text search treats it as one word)."""
    return "zq" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])


def add_passages(
    texts: list[str],
    *,
    kind: str = Passage.SourceKind.DOCUMENT,
    owner: Any = None,
    visibility: str = Passage.Visibility.PRIVATE,
    shared_with: list[Any] | None = None,
    title: str = "Fixture",
    source_id: uuid.UUID | None = None,
    embed: bool = True,
) -> list[Passage]:
    """One source with a passage per text, embedded and tagged with the verses they cite."""
    source_id = source_id or uuid.uuid4()
    vectors = embed_texts(texts) if embed else [None] * len(texts)
    rows = []
    for index, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        references = find_references(text)
        rows.append(
            Passage(
                source_kind=kind,
                source_id=source_id,
                chunk_index=index,
                title=title,
                text=text,
                embedding=vector,
                embedding_model=model_name() if vector is not None else "",
                page_start=index + 1 if kind == Passage.SourceKind.DOCUMENT else None,
                page_end=index + 1 if kind == Passage.SourceKind.DOCUMENT else None,
                scripture_references=[reference.canonical for reference in references],
                verse_ids=verse_ids_of(references),
                visibility=visibility,
                owner_id=getattr(owner, "pk", owner),
                shared_with=[getattr(user, "pk", user) for user in shared_with or []],
            )
        )
    return Passage.objects.bulk_create(rows)
