"""Writes to the passage index. Every source (documents, knowledge entries, the Bibles)
builds its passages the same way: chunk its text (`apps.index.chunking`), embed the chunks
(`passages_embed`), `passages_build` (numbering, locators, scripture references), then write
them with `passages_replace_for_source` or, for the Bibles, `passages_insert_missing`.
Sources hand the index plain data; the index never looks back at them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from apps.index import embeddings, ensemble, references
from apps.index.generation import index_changed
from apps.index.models import Passage
from apps.index.selectors import PassageAccess

Vector = Sequence[float]


@dataclass(frozen=True)
class PassageText:
    """One chunk as a source hands it over: its text and where it sits in the source
    (a document's page span, printed page label and section heading). A Bible verse names
    the verse it is (`verse_ids`); any other text is searched for the scripture it cites."""

    text: str
    page_start: int | None = None
    page_end: int | None = None
    page_label: str = ""
    section: str = ""
    reference: str = ""
    translation: str = ""
    chunk_index: int | None = None  # default: its position in the list
    verse_ids: tuple[int, ...] = ()


@dataclass
class PassageData:
    chunk_index: int
    text: str
    embedding: Vector | None
    page_start: int | None = None
    page_end: int | None = None
    page_label: str = ""
    section: str = ""
    reference: str = ""
    translation: str = ""
    scripture_references: list[str] = field(default_factory=list)
    verse_ids: list[int] = field(default_factory=list)
    second_embedding: Vector | None = None  # the ensemble's model (apps.index.ensemble)


class EmbeddedVectors(list[list[float]]):
    """What passages_embed returns: the vectors, in order, plus `second`, the ensemble
    model's vectors in the same order (None when the ensemble is off). passages_build
    carries them over, so no source has to pass them along itself."""

    second: list[list[float]] | None = None


def passages_embed(texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None) -> EmbeddedVectors:
    """Vectors for `texts`, in order. Embedded in batches, longest texts first (as
    model.encode orders them itself: batches of similar length waste less padding);
    `on_batch(done)` is called after each batch, for progress. With the ensemble on, each
    batch is embedded by both models before its progress is reported."""
    batch = settings.EMBEDDING_BATCH_SIZE
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vectors = EmbeddedVectors([] for _ in texts)
    second: list[list[float]] | None = [[] for _ in texts] if ensemble.ensemble_enabled() else None
    for start in range(0, len(order), batch):
        indexes = order[start : start + batch]
        batch_texts = [texts[i] for i in indexes]
        for i, vector in zip(indexes, embeddings.embed_texts(batch_texts, batch_size=batch).tolist(), strict=True):
            vectors[i] = vector
        if second is not None:
            for i, vector in zip(indexes, ensemble.second_vectors(batch_texts) or [], strict=True):
                second[i] = vector
        if on_batch is not None:
            on_batch(min(start + batch, len(order)))
    vectors.second = second
    return vectors


def passages_build(chunks: Sequence[PassageText], *, vectors: Sequence[Vector] | None = None) -> list[PassageData]:
    """The passages of one source, in the one order every source uses: numbered, located,
    with the scripture each cites, and with its vector when `vectors` are given (Bible
    verses are stored first and embedded in the background)."""
    if vectors is not None and len(vectors) != len(chunks):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors.")
    second = getattr(vectors, "second", None)  # EmbeddedVectors with the ensemble on
    built = []
    for position, chunk in enumerate(chunks):
        if chunk.verse_ids:
            canonical, verse_ids = [chunk.reference], list(chunk.verse_ids)
        else:
            found = references.references_find(chunk.text)
            canonical, verse_ids = [ref.canonical for ref in found], references.verse_ids_of(found)
        built.append(
            PassageData(
                chunk_index=position if chunk.chunk_index is None else chunk.chunk_index,
                text=chunk.text,
                embedding=None if vectors is None else vectors[position],
                page_start=chunk.page_start,
                page_end=chunk.page_end,
                page_label=chunk.page_label[: Passage.PAGE_LABEL_CHARS],
                section=chunk.section[: Passage.SECTION_CHARS],
                reference=chunk.reference,
                translation=chunk.translation,
                scripture_references=canonical,
                verse_ids=verse_ids,
                second_embedding=None if second is None else second[position],
            )
        )
    return built


def _rows(
    *, source_kind: str, source_id: uuid.UUID, title: str, passages: Sequence[PassageData], access: PassageAccess
) -> list[Passage]:
    current_model = embeddings.model_name()
    return [
        Passage(
            source_kind=source_kind,
            source_id=source_id,
            chunk_index=p.chunk_index,
            title=title[:300],
            text=p.text,
            embedding=p.embedding,
            embedding_model=current_model if p.embedding is not None else "",
            page_start=p.page_start,
            page_end=p.page_end,
            page_label=p.page_label,
            section=p.section,
            reference=p.reference,
            translation=p.translation,
            scripture_references=p.scripture_references,
            verse_ids=p.verse_ids,
            visibility=access.visibility,
            owner_id=access.owner_id,
            shared_with=list(access.shared_with),
        )
        for p in passages
    ]


def passages_replace_for_source(
    *,
    source_kind: str,
    source_id: uuid.UUID,
    title: str,
    passages: Sequence[PassageData],
    access: PassageAccess,
) -> int:
    """Atomically swap all passages of one source: readers see the old set or the new one,
    never a mix, and a re-run never duplicates (UNIQUE source + chunk index)."""
    rows = _rows(source_kind=source_kind, source_id=source_id, title=title, passages=passages, access=access)
    with transaction.atomic():
        Passage.objects.filter(source_kind=source_kind, source_id=source_id).delete()
        Passage.objects.bulk_create(rows, batch_size=500)
        _write_second_vectors(rows, passages)
        index_changed()
    return len(rows)


def _write_second_vectors(
    rows: Sequence[Passage], passages: Sequence[PassageData], *, inserted_only: bool = False
) -> None:
    """The ensemble model's vectors of the rows just written, where the build made them
    (`inserted_only`: of the rows a bulk insert that ignores conflicts really added)."""
    pairs = {
        row.pk: p.second_embedding for row, p in zip(rows, passages, strict=True) if p.second_embedding is not None
    }
    if pairs and inserted_only:
        inserted = set(Passage.objects.filter(pk__in=list(pairs)).values_list("pk", flat=True))
        pairs = {pk: vector for pk, vector in pairs.items() if pk in inserted}
    if pairs:
        ensemble.passage_vectors_write(vectors=pairs.items())


def passages_insert_missing(
    *, source_kind: str, source_id: uuid.UUID, title: str, passages: Sequence[PassageData], access: PassageAccess
) -> int:
    """Add the passages whose chunk index the source does not have yet (a load that resumes);
    returns how many were given to insert."""
    rows = _rows(source_kind=source_kind, source_id=source_id, title=title, passages=passages, access=access)
    Passage.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    _write_second_vectors(rows, passages, inserted_only=True)
    index_changed()
    return len(rows)


def passages_chunk_indexes(*, source_kind: str, source_id: uuid.UUID) -> set[int]:
    return set(
        Passage.objects.filter(source_kind=source_kind, source_id=source_id).values_list("chunk_index", flat=True)
    )


def passages_delete_for_source(*, source_kind: str, source_id: uuid.UUID) -> int:
    deleted, _ = Passage.objects.filter(source_kind=source_kind, source_id=source_id).delete()
    index_changed()
    return deleted


def passages_set_access(*, source_kind: str, source_id: uuid.UUID, access: PassageAccess) -> int:
    """Keep the access fields current (call in the transaction that changes the source's access)."""
    index_changed()
    return Passage.objects.filter(source_kind=source_kind, source_id=source_id).update(
        visibility=access.visibility, owner_id=access.owner_id, shared_with=list(access.shared_with)
    )


def passages_set_title(*, source_kind: str, source_id: uuid.UUID, title: str) -> int:
    index_changed()
    return Passage.objects.filter(source_kind=source_kind, source_id=source_id).update(title=title[:300])
