"""Presenting hits: the passages themselves, a snippet of each, and where the query's
words are in it."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchHeadline, SearchQuery

from apps.index.models import Passage
from apps.index.text_ranking import any_word_query, query_lexemes

# Highlight markers ts_headline puts around matched words; stripped into offsets.
_MARK_START, _MARK_END = "\x01", "\x02"
_SNIPPET_CHARS = 320


@dataclass
class SearchHit:
    passage: Passage
    score: float
    matched_by: list[str]
    snippet: str = ""
    highlights: list[tuple[int, int]] = field(default_factory=list)  # [start, end) in snippet


def text_query(query: str) -> SearchQuery | None:
    """Any of the query's words, as the index stores them; None when it has none."""
    lexemes = query_lexemes(query)
    return any_word_query(lexemes) if lexemes else None


def hits_of(ranked: list[tuple[uuid.UUID, float, list[str]]], query: str) -> list[SearchHit]:
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
