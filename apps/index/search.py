"""Hybrid, scripture-aware search over the passage index.

Three recall sources over the passages the user may see (index.selectors.visible_passages,
applied inside each query):
- vector: cosine kNN on the HNSW index, with pgvector's iterative scan so a user who sees
  few passages still gets k of them; only vectors from the configured model are compared;
  Bible verses of every translation, and pairs of neighbouring verses (index.fusion);
- text: BM25 over the query's words (index.text_ranking);
- reference: scripture references in the query ("Rom 8:28-30") give those verses exactly,
  and every passage whose cited verses overlap them.
Vector and text are fused by score (index.fusion); reference matches come first, since a
reader who names a verse wants that verse and what is said about it. A verse found in two
translations counts once and is shown in the chosen one; in "all" scope neither the Bible
nor one book may fill the whole list.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, FloatField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from pgvector import Vector
from pgvector.django import CosineDistance

from apps.index import ensemble, fusion
from apps.index.embeddings import embed_texts, model_name
from apps.index.models import Passage
from apps.index.references import FoundReference, references_find, verse_ids_of
from apps.index.selectors import visible_passages
from apps.index.snippets import SearchHit, hits_of
from apps.index.text_ranking import WeightedWord, bm25_score, text_ranking, weighted_words

__all__ = ["METHODS", "SCOPES", "SearchHit", "SearchResults", "passages_search"]

VECTOR, TEXT, REFERENCE = "vector", "text", "reference"
METHODS = (VECTOR, TEXT, REFERENCE)
SCOPES = {
    "all": None,
    "documents": Passage.SourceKind.DOCUMENT,
    "knowledge": Passage.SourceKind.KNOWLEDGE,
    "bible": Passage.SourceKind.BIBLE,
}
SCOPE_NAMES = list(SCOPES)
ALL_TRANSLATIONS = "all"
# The query is embedded on this thread while the text ranking runs on the caller's (the
# model releases the GIL; the database query only waits).
_embedder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-embedding")


@dataclass
class SearchResults:
    query: str
    references: list[FoundReference]
    hits: list[SearchHit]


def passages_search(
    *,
    user: Any,
    query: str,
    scope: str = "all",
    k: int = 10,
    translation: str | None = None,
    source_ids: Sequence[uuid.UUID] | None = None,
    methods: Iterable[str] = METHODS,
) -> SearchResults:
    """The k best passages for `query` among those `user` may see.

    `translation` is the translation Bible verses are shown in (None: the configured
    default, "all": each translation apart); verses are found through every translation.
    `source_ids` limits results to given documents/entries (chat about one document).
    `methods` exists for evaluation (vector-only, text-only)."""
    methods = set(methods)
    shown = translation or settings.SEARCH_DEFAULT_TRANSLATION
    display = None if shown == ALL_TRANSLATIONS else shown
    recall = _scoped(visible_passages(user), scope=scope, translation=ALL_TRANSLATIONS, source_ids=source_ids)
    pool = max(settings.SEARCH_CANDIDATES, k)
    embedding: Future | None = _embedder.submit(embed_texts, [query]) if VECTOR in methods else None
    references = references_find(query) if REFERENCE in methods else []
    words = weighted_words(query)
    found_by_text = text_ranking(recall, words, limit=pool) if TEXT in methods else []
    query_vector = embedding.result()[0] if embedding is not None else None
    found_by_vector = nearest_by_vector(recall, query_vector, limit=pool) if query_vector is not None else []
    found_by_second = ensemble.second_nearest(recall, query, limit=pool) if VECTOR in methods else []
    candidates = _candidates(recall, words, query_vector, found_by_vector + found_by_second, found_by_text)
    fusion.blend_second(candidates, found_by_vector, found_by_second)
    weights = fusion.text_weights(query, [word.lexeme for word in words])
    ranked = _ranked(candidates, methods=methods, display=display, k=k, weights=weights)
    _in_translation(ranked, recall, display)
    named = _scoped(visible_passages(user), scope=scope, translation=shown, source_ids=source_ids)
    referenced = _reference_matches(named, references, limit=pool) if references else []
    hits = hits_of(_shown(ranked, referenced, k), query)
    return SearchResults(query=query, references=references, hits=hits)


def _scoped(
    passages: QuerySet[Passage],
    *,
    scope: str,
    translation: str | None,
    source_ids: Sequence[uuid.UUID] | None,
) -> QuerySet[Passage]:
    kind = SCOPES[scope]
    if kind is not None:
        passages = passages.filter(source_kind=kind)
    translation = translation or settings.SEARCH_DEFAULT_TRANSLATION
    if translation != ALL_TRANSLATIONS and kind in (None, Passage.SourceKind.BIBLE):
        passages = passages.filter(~Q(source_kind=Passage.SourceKind.BIBLE) | Q(translation=translation))
    if source_ids is not None:
        passages = passages.filter(source_id__in=list(source_ids))
    return passages


# --- recall ---------------------------------------------------------------------------------


def ef_search_for(limit: int) -> int:
    """HNSW candidate list size: twice the rows wanted, at least 80 (recall@10 0.92 on the
    100k scale benchmark, against 0.88 at pgvector's default of 40)."""
    return max(2 * int(limit), 80)


def nearest_by_vector(
    passages: QuerySet[Passage], vector: Any, *, limit: int, iterative: bool = True
) -> list[tuple[uuid.UUID, float]]:
    """(id, cosine distance) of the `limit` nearest passages made by the configured model.

    With `iterative`, pgvector keeps scanning the HNSW graph until `limit` rows pass the
    filters (the access rule, the scope); without it, a user who sees 1% of the index
    would get about 1% of ef_search rows. Relaxed order is re-sorted here."""
    nearest = (
        passages.filter(embedding_model=model_name())
        .annotate(distance=CosineDistance("embedding", vector))
        .order_by("distance")
        .values_list("id", "distance")[:limit]
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.iterative_scan = {'relaxed_order' if iterative else 'off'}")
        cursor.execute(f"SET LOCAL hnsw.ef_search = {ef_search_for(limit)}")
        rows = list(nearest)
    return sorted(rows, key=lambda row: row[1])


_FEATURES = ("id", "source_kind", "source_id", "chunk_index", "verse_ids", "translation")


def _candidates(
    recall: QuerySet[Passage],
    words: list[WeightedWord],
    query_vector: Any | None,
    found_by_vector: list[tuple[uuid.UUID, float]],
    found_by_text: list[tuple[uuid.UUID, float]],
) -> list[fusion.Candidate]:
    """Every passage either ranking found, and the verses next to each verse the vector
    ranking found, with all their scores in one query: similarity, the similarity of the
    verse joined with the next one, and BM25."""
    ids = {passage_id for passage_id, _ in (*found_by_vector, *found_by_text)}
    if not ids:
        return []
    rows = recall.filter(Q(pk__in=ids) | _neighbours_of(recall, {passage_id for passage_id, _ in found_by_vector}))
    zero = Value(0.0, output_field=FloatField())
    rows = rows.annotate(
        text_score=bm25_score(words) if words else zero,
        similarity=_similarity(query_vector) if query_vector is not None else zero,
        window=_window_similarity(query_vector) if query_vector is not None else zero,
    )
    candidates = fusion.candidates_from(rows.values_list(*_FEATURES, "similarity", "window", "text_score"))
    for method, found in ((VECTOR, found_by_vector), (TEXT, found_by_text)):
        for passage_id, _ in found:
            if passage_id in candidates:
                candidates[passage_id].matched_by.append(method)
    for candidate in candidates.values():
        if not candidate.matched_by:  # a neighbour, found through its window
            candidate.matched_by.append(VECTOR)
    return list(candidates.values())


def _similarity(query_vector: Any) -> Any:
    """Cosine similarity to the query; 0 for a vector from another model."""
    return Case(
        When(embedding_model=model_name(), then=1 - CosineDistance("embedding", query_vector)),
        default=Value(0.0),
        output_field=FloatField(),
    )


def _window_similarity(query_vector: Any) -> RawSQL:
    """Cosine similarity of a verse joined with the next verse (a verse's chunk index is
    its verse id, so the next verse of the same chapter is chunk_index + 1)."""
    table = Passage._meta.db_table
    return RawSQL(
        f"(SELECT 1 - ((following.embedding + {table}.embedding) <=> %s::vector) FROM {table} following"
        f" WHERE {table}.source_kind = %s AND following.source_kind = %s"
        f" AND following.source_id = {table}.source_id AND following.chunk_index = {table}.chunk_index + 1"
        f" AND following.embedding_model = {table}.embedding_model AND {table}.embedding_model = %s)",
        [Vector(query_vector).to_text(), Passage.SourceKind.BIBLE, Passage.SourceKind.BIBLE, model_name()],
        output_field=FloatField(),
    )


def _neighbours_of(recall: QuerySet[Passage], ids: set[uuid.UUID]) -> Q:
    """The verses on either side of each Bible verse among `ids`."""
    verses = recall.filter(pk__in=ids, source_kind=Passage.SourceKind.BIBLE).values_list("source_id", "chunk_index")
    places: dict[uuid.UUID, set[int]] = {}
    for source_id, chunk_index in verses:
        places.setdefault(source_id, set()).update({chunk_index - 1, chunk_index + 1})
    condition = Q()
    for source_id, indexes in places.items():
        condition |= Q(source_kind=Passage.SourceKind.BIBLE, source_id=source_id, chunk_index__in=sorted(indexes))
    return condition


def _in_translation(ranked: list[fusion.Candidate], recall: QuerySet[Passage], display: str | None) -> None:
    """Verses found only through another translation are shown in the chosen one (a verse
    that translation lacks, like Romans 16:25 in the WEB, stays as found)."""
    elsewhere = {c.verse: c for c in ranked if c.verse is not None and c.translation != display}
    if display is None or not elsewhere:
        return
    shown = recall.filter(
        source_kind=Passage.SourceKind.BIBLE, translation=display, verse_ids__overlap=list(elsewhere)
    ).values_list("id", "verse_ids")
    for passage_id, verse_ids in shown:
        candidate = elsewhere.get(verse_ids[0]) if len(verse_ids) == 1 else None
        if candidate is not None:
            candidate.id, candidate.translation = passage_id, display


def _reference_matches(passages: QuerySet[Passage], references: list[FoundReference], *, limit: int) -> list[uuid.UUID]:
    """The named verses (canonical order), then passages citing any of them."""
    verse_ids = verse_ids_of(references)
    overlapping = passages.filter(verse_ids__overlap=verse_ids)
    verses = overlapping.filter(source_kind=Passage.SourceKind.BIBLE).order_by("chunk_index", "translation")
    citing = overlapping.exclude(source_kind=Passage.SourceKind.BIBLE).order_by("-created_at", "chunk_index")
    return [*verses.values_list("id", flat=True)[:limit], *citing.values_list("id", flat=True)[:limit]]


# --- ranking --------------------------------------------------------------------------------


def _ranked(
    candidates: list[fusion.Candidate], *, methods: set[str], display: str | None, k: int, weights: dict[str, float]
) -> list[fusion.Candidate]:
    for candidate in candidates:
        candidate.score = fusion.fused(candidate, methods, vector=VECTOR, text=TEXT, weights=weights)
    wanted = candidates
    if VECTOR not in methods:
        wanted = [candidate for candidate in candidates if candidate.text > 0]
    ordered = sorted(wanted, key=lambda candidate: (-candidate.score, str(candidate.id)))
    return fusion.diversified(fusion.one_per_verse(ordered, display=display), k)


def _shown(
    ranked: list[fusion.Candidate], referenced: list[uuid.UUID], k: int
) -> list[tuple[uuid.UUID, float, list[str]]]:
    """Named verses and the passages citing them first (a reference outranks any score),
    then the fused ranking; each passage once."""
    by_id = {candidate.id: candidate for candidate in ranked}
    shown: dict[uuid.UUID, tuple[uuid.UUID, float, list[str]]] = {}
    for rank, passage_id in enumerate(referenced, start=1):
        found = by_id.get(passage_id)
        methods = [REFERENCE, *(found.matched_by if found else [])]
        shown[passage_id] = (passage_id, round(2.0 + 1.0 / rank, 6), methods)
    for candidate in ranked:
        if candidate.id not in shown:
            shown[candidate.id] = (candidate.id, round(candidate.score, 6), candidate.matched_by)
    return list(shown.values())[:k]
