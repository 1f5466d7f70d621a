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

import functools
import hashlib
import sys
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from pgvector.django import CosineDistance

from apps.core.cache import cached
from apps.index import ensemble, fusion
from apps.index.candidates import ef_search_for, recall_where, scored_candidates
from apps.index.embeddings import embed_on_one_thread, embed_texts, model_name
from apps.index.generation import index_generation
from apps.index.models import Passage
from apps.index.references import FoundReference, references_find, verse_ids_of
from apps.index.selectors import visible_passages
from apps.index.snippets import SearchHit, hits_of
from apps.index.text_ranking import WeightedWord, text_ranking, weighted_words

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
_embedder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-embedding", initializer=embed_on_one_thread)


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
    `methods` exists for evaluation (vector-only, text-only).

    Results are cached (core.cache) under a key that holds everything they depend on: the
    access rule as this user's SQL (who they are, approved, guest), the index generation
    (every committed passage write, shares included, moves it: index.generation), the
    arguments and the search settings. An access change can never serve a stale answer."""
    request = _Request(
        user, query, scope, k, translation, tuple(source_ids) if source_ids is not None else None, frozenset(methods)
    )
    if settings.SEARCH_CACHE_SECONDS <= 0:
        return _searched(request)
    return cached("search", _result_key(request), lambda: _searched(request), timeout=settings.SEARCH_CACHE_SECONDS)


@dataclass(frozen=True)
class _Request:
    user: Any
    query: str
    scope: str
    k: int
    translation: str | None
    source_ids: tuple[uuid.UUID, ...] | None
    methods: frozenset[str]


def _result_key(request: _Request) -> str:
    rule, rule_params = recall_where(visible_passages(request.user))
    source_ids = request.source_ids
    parts = (
        index_generation(),
        rule,
        [str(value) for value in rule_params],
        request.query,
        request.scope,
        request.k,
        request.translation or settings.SEARCH_DEFAULT_TRANSLATION,
        sorted(str(source_id) for source_id in source_ids) if source_ids is not None else None,
        sorted(request.methods),
        (settings.SEARCH_CANDIDATES, settings.EMBEDDING_ENSEMBLE, model_name(), _ranking_code_version()),
    )
    return repr(parts)


RANKING_MODULES = (
    "apps.index.candidates",
    "apps.index.fusion",
    "apps.index.snippets",
    "apps.index.text_ranking",
    __name__,
)


@functools.cache
def _ranking_code_version() -> str:
    """A digest of the ranking code itself: after a deploy that changes a weight, results
    ranked by the old code are not served from Redis."""
    digest = hashlib.blake2b(digest_size=8)
    for name in RANKING_MODULES:
        digest.update(Path(str(sys.modules[name].__file__)).read_bytes())
    return digest.hexdigest()


def _searched(request: _Request) -> SearchResults:
    user, query, scope, k, methods = request.user, request.query, request.scope, request.k, set(request.methods)
    translation, source_ids = request.translation, request.source_ids
    shown = translation or settings.SEARCH_DEFAULT_TRANSLATION
    display = None if shown == ALL_TRANSLATIONS else shown
    recall = _scoped(visible_passages(user), scope=scope, translation=ALL_TRANSLATIONS, source_ids=source_ids)
    pool = max(settings.SEARCH_CANDIDATES, k)
    embedding: Future | None = _embedder.submit(query_embedding, query) if VECTOR in methods else None
    references = references_find(query) if REFERENCE in methods else []
    words = weighted_words(query)
    found_by_text = text_ranking(recall, words, limit=pool) if TEXT in methods else []
    query_vector = embedding.result() if embedding is not None else None
    found_by_second = ensemble.second_nearest(recall, query, limit=pool) if VECTOR in methods else []
    candidates, found_by_vector = _candidates(recall, words, query_vector, pool, found_by_text, found_by_second)
    fusion.blend_second(candidates, found_by_vector, found_by_second)
    weights = fusion.text_weights(query, words, candidates)
    ranked = _ranked(candidates, methods=methods, display=display, k=k, weights=weights)
    _in_translation(ranked, recall, display)
    named = _scoped(visible_passages(user), scope=scope, translation=shown, source_ids=source_ids)
    referenced = _reference_matches(named, references, limit=pool) if references else []
    hits = hits_of(_shown(ranked, referenced, k), query)
    return SearchResults(query=query, references=references, hits=hits)


def query_embedding(query: str) -> Any:
    """The query's vector: a question asked again (a chat's follow-up search, a reader
    paging, the same question from another reader) is embedded once a day, not each time."""
    return cached(
        "query-embedding",
        f"{model_name()}\n{query}",
        lambda: embed_texts([query])[0],
        timeout=settings.QUERY_EMBEDDING_CACHE_SECONDS,
    )


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


def _candidates(
    recall: QuerySet[Passage],
    words: list[WeightedWord],
    query_vector: Any | None,
    pool: int,
    found_by_text: list[tuple[uuid.UUID, float]],
    found_by_second: list[tuple[uuid.UUID, float]],
) -> tuple[list[fusion.Candidate], list[tuple[uuid.UUID, float]]]:
    """Every passage a ranking found, and the verses next to each nearest verse, with their
    scores (index.candidates); and the vector ranking's own list, nearest first."""
    elsewhere = [passage_id for passage_id, _ in (*found_by_text, *found_by_second)]
    if query_vector is None and not elsewhere:
        return [], []
    candidates, found_by_vector = scored_candidates(
        recall, words=words, query_vector=query_vector, nearest=pool, found_elsewhere=elsewhere
    )
    for method, found in ((VECTOR, found_by_vector), (VECTOR, found_by_second), (TEXT, found_by_text)):
        for passage_id, _ in found:
            if passage_id in candidates and method not in candidates[passage_id].matched_by:
                candidates[passage_id].matched_by.append(method)
    for candidate in candidates.values():
        if not candidate.matched_by:  # a neighbour, found through its window
            candidate.matched_by.append(VECTOR)
    return list(candidates.values()), found_by_vector


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
