"""Hybrid, scripture-aware search over the passage index.

Three rankings over the passages the user may see (index.selectors.visible_passages,
applied inside each query):
- vector: cosine kNN on the HNSW index, with pgvector's iterative scan so a user who sees
  few passages still gets k of them; only vectors from the configured model are compared;
- text: PostgreSQL full-text ranking of the query's words (any of them may match; more
  matched words rank higher);
- reference: scripture references in the query ("Rom 8:28-30") give those verses exactly,
  and every passage whose cited verses overlap them.
Vector and text are fused with reciprocal rank fusion; reference matches come first, since
a reader who names a verse wants that verse and what is said about it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from pgvector.django import CosineDistance

from apps.index.embeddings import embed_texts, model_name
from apps.index.models import Passage
from apps.index.references import FoundReference, references_find, verse_ids_of
from apps.index.selectors import visible_passages

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

# Highlight markers ts_headline puts around matched words; stripped into offsets.
_MARK_START, _MARK_END = "\x01", "\x02"
_WORD = re.compile(r"\w+")
_SNIPPET_CHARS = 320


@dataclass
class SearchHit:
    passage: Passage
    score: float
    matched_by: list[str]
    snippet: str = ""
    highlights: list[tuple[int, int]] = field(default_factory=list)  # [start, end) in snippet


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

    `translation` limits Bible verses to one translation (None: the configured default,
    "all": both). `source_ids` limits results to given documents/entries (chat about one
    document). `methods` exists for evaluation (vector-only, text-only)."""
    methods = set(methods)
    candidates = _scoped(visible_passages(user), scope=scope, translation=translation, source_ids=source_ids)
    pool = max(settings.SEARCH_CANDIDATES, k)
    references = references_find(query) if REFERENCE in methods else []
    rankings: dict[str, list[uuid.UUID]] = {}
    if VECTOR in methods:
        rankings[VECTOR] = _vector_ranking(candidates, query, limit=pool)
    if TEXT in methods:
        rankings[TEXT] = _text_ranking(candidates, query, limit=pool)
    referenced = _reference_matches(candidates, references, limit=pool) if references else []
    ranked = _fuse(rankings, referenced=referenced, rrf_k=settings.SEARCH_RRF_K)[:k]
    return SearchResults(query=query, references=references, hits=_hits(ranked, query))


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


# --- the three rankings ---------------------------------------------------------------------


def _vector_ranking(passages: QuerySet[Passage], query: str, *, limit: int) -> list[uuid.UUID]:
    return [passage_id for passage_id, _ in nearest_by_vector(passages, embed_texts([query])[0], limit=limit)]


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


def text_query(query: str) -> SearchQuery | None:
    """Any of the query's words (stemmed, stop words dropped by the English config); None
    when it has no words worth matching. Short numbers (chapter/verse) are left out."""
    words = [w for w in dict.fromkeys(_WORD.findall(query.lower())) if not (w.isdigit() and len(w) <= 3)]
    if not words:
        return None
    return SearchQuery(" | ".join(words), search_type="raw", config="english")


def _text_ranking(passages: QuerySet[Passage], query: str, *, limit: int) -> list[uuid.UUID]:
    tsquery = text_query(query)
    if tsquery is None:
        return []
    return list(
        passages.filter(search_vector=tsquery)
        .annotate(rank=SearchRank(F("search_vector"), tsquery, normalization=settings.SEARCH_TEXT_NORMALIZATION))
        .order_by("-rank", "id")
        .values_list("id", flat=True)[:limit]
    )


def _reference_matches(passages: QuerySet[Passage], references: list[FoundReference], *, limit: int) -> list[uuid.UUID]:
    """The named verses (canonical order), then passages citing any of them."""
    verse_ids = verse_ids_of(references)
    overlapping = passages.filter(verse_ids__overlap=verse_ids)
    verses = overlapping.filter(source_kind=Passage.SourceKind.BIBLE).order_by("chunk_index", "translation")
    citing = overlapping.exclude(source_kind=Passage.SourceKind.BIBLE).order_by("-created_at", "chunk_index")
    return [*verses.values_list("id", flat=True)[:limit], *citing.values_list("id", flat=True)[:limit]]


# --- fusion -------------------------------------------------------------------------------


def _fuse(
    rankings: dict[str, list[uuid.UUID]], *, referenced: list[uuid.UUID], rrf_k: int
) -> list[tuple[uuid.UUID, float, list[str]]]:
    """Reciprocal rank fusion: score = sum over rankings of 1 / (rrf_k + rank). A passage
    found by reference scores 1 more than any other, keeping the reference order."""
    scores: dict[uuid.UUID, float] = {}
    matched_by: dict[uuid.UUID, list[str]] = {}
    for method, ranking in rankings.items():
        for rank, passage_id in enumerate(ranking, start=1):
            scores[passage_id] = scores.get(passage_id, 0.0) + 1.0 / (rrf_k + rank)
            matched_by.setdefault(passage_id, []).append(method)
    for rank, passage_id in enumerate(referenced, start=1):
        # Verses first, in the order named; among citing passages the fused score still counts.
        scores[passage_id] = scores.get(passage_id, 0.0) + 1.0 + 1.0 / rank
        matched_by.setdefault(passage_id, []).insert(0, REFERENCE)
    ordered = sorted(scores, key=lambda passage_id: (-scores[passage_id], str(passage_id)))
    return [(passage_id, round(scores[passage_id], 6), matched_by[passage_id]) for passage_id in ordered]


# --- presenting hits ----------------------------------------------------------------------


def _hits(ranked: list[tuple[uuid.UUID, float, list[str]]], query: str) -> list[SearchHit]:
    if not ranked:
        return []
    passages = Passage.objects.filter(pk__in=[passage_id for passage_id, _, _ in ranked]).defer(
        "embedding", "search_vector"
    )
    tsquery = text_query(query)
    if tsquery is not None:
        passages = passages.annotate(
            headline=SearchHeadline(
                "text",
                tsquery,
                config="english",
                start_sel=_MARK_START,
                stop_sel=_MARK_END,
                max_words=45,
                min_words=20,
                max_fragments=2,
                fragment_delimiter=" … ",
            )
        )
    by_id = {passage.pk: passage for passage in passages}
    hits = []
    for passage_id, score, matched_by in ranked:
        passage = by_id.get(passage_id)
        if passage is None:  # deleted between the two queries
            continue
        snippet, highlights = _snippet(getattr(passage, "headline", None) or "", passage.text)
        hits.append(SearchHit(passage, score, matched_by, snippet, highlights))
    return hits


def _snippet(headline: str, text: str) -> tuple[str, list[tuple[int, int]]]:
    """Plain text plus highlight offsets: clients render the marks themselves, so no HTML
    from a document ever reaches a page unescaped."""
    if _MARK_START not in headline:
        plain = " ".join(text.split())
        return (plain if len(plain) <= _SNIPPET_CHARS else plain[:_SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"), []
    snippet_parts: list[str] = []
    highlights: list[tuple[int, int]] = []
    position = 0
    for piece in re.split(f"({_MARK_START}[^{_MARK_END}]*{_MARK_END})", headline):
        if piece.startswith(_MARK_START):
            word = piece.strip(_MARK_START + _MARK_END)
            highlights.append((position, position + len(word)))
            piece = word
        snippet_parts.append(piece)
        position += len(piece)
    return "".join(snippet_parts), highlights
