"""Keeping passage embeddings current: embed what has no vector yet (Bible verses are
inserted first and embedded in the background) and re-embed what an older model made.

Search only compares vectors made by the configured model (see index.search), so while
a re-embed runs, stale passages are found by text and reference but never mixed into the
vector ranking."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from apps.index import ensemble
from apps.index.chunking import embedding_text
from apps.index.embeddings import embed_texts, model_name, second_model_name
from apps.index.generation import index_changed
from apps.index.models import EMBEDDING_DIMENSIONS, Passage, PassageVector

_CHAIN_KEY = "knowledge:bible-embedding-chain"
_CHAIN_TTL_SECONDS = 600  # a chain whose worker died is considered gone after this


def stale_passages(*, source_kind: str | None = None) -> QuerySet[Passage]:
    """Passages without a vector from the configured model."""
    stale = Passage.objects.filter(Q(embedding__isnull=True) | ~Q(embedding_model=model_name()))
    return stale.filter(source_kind=source_kind) if source_kind else stale


def passages_embed_stale(*, source_kind: str | None = None, batch_size: int | None = None) -> int:
    """Embed one batch of stale passages; returns how many (0 when nothing is left).

    Rows are claimed with FOR UPDATE SKIP LOCKED, so two workers (or the re-embed command
    beside the background chain) share the work instead of doing it twice."""
    batch_size = batch_size or settings.EMBEDDING_STALE_BATCH
    with transaction.atomic():
        batch = list(
            stale_passages(source_kind=source_kind)
            .select_for_update(skip_locked=True)
            .order_by("source_kind", "source_id", "chunk_index")
            .only("id", "text", "section")[:batch_size]
        )
        if not batch:
            return 0
        vectors = embed_texts([embedding_text(text=passage.text, section=passage.section) for passage in batch])
        if vectors.shape[1] != EMBEDDING_DIMENSIONS:
            raise ValueError(
                f"The embedding model makes {vectors.shape[1]}-dimensional vectors; the index holds "
                f"{EMBEDDING_DIMENSIONS}. Changing dimensions needs a migration of Passage.embedding."
            )
        current = model_name()
        for passage, vector in zip(batch, vectors, strict=True):
            passage.embedding = vector
            passage.embedding_model = current
        Passage.objects.bulk_update(batch, ["embedding", "embedding_model"])
        index_changed()
        _embed_second(batch)
    if source_kind == Passage.SourceKind.BIBLE:
        cache.set(_CHAIN_KEY, True, _CHAIN_TTL_SECONDS)  # the chain is alive
    return len(batch)


def _embed_second(batch: list[Passage]) -> None:
    """With the ensemble on, the second model embeds the same batch."""
    second = ensemble.second_vectors([embedding_text(text=passage.text, section=passage.section) for passage in batch])
    if second is not None:
        ensemble.passage_vectors_write(vectors=zip((passage.pk for passage in batch), second, strict=True))


def second_stale_passages(*, source_kind: str | None = None) -> QuerySet[Passage]:
    """Passages without a vector from the ensemble's model (the ensemble was switched on
    after they were embedded, or its model changed)."""
    has_vector = PassageVector.objects.filter(passage=OuterRef("pk"), model=second_model_name())
    stale = Passage.objects.filter(~Exists(has_vector))
    return stale.filter(source_kind=source_kind) if source_kind else stale


def passages_embed_second_stale(*, source_kind: str | None = None, batch_size: int | None = None) -> int:
    """Embed one batch of passages that lack the ensemble model's vector; returns how many
    (0 when nothing is left, or the ensemble is off). Claimed like passages_embed_stale."""
    if not ensemble.ensemble_enabled():
        return 0
    with transaction.atomic():
        batch = list(
            second_stale_passages(source_kind=source_kind)
            .select_for_update(skip_locked=True)
            .order_by("source_kind", "source_id", "chunk_index")
            .only("id", "text", "section")[: batch_size or settings.EMBEDDING_STALE_BATCH]
        )
        _embed_second(batch)
    return len(batch)


def embedding_chain_should_start() -> bool:
    """True (and marks the chain running) when Bible verses wait and no chain is running."""
    if not stale_passages(source_kind=Passage.SourceKind.BIBLE).exists():
        return False
    return cache.add(_CHAIN_KEY, True, _CHAIN_TTL_SECONDS)


def embedding_chain_finished() -> None:
    cache.delete(_CHAIN_KEY)
