"""The text ranking: BM25 over the query's words, with PostgreSQL's full-text search.

ts_rank counts how often a word occurs, so one verse that says "goes" four times beat every
verse about grace for "grace that goes before the will". BM25 instead weighs each word by
how rare it is (its inverse document frequency) and counts it once per passage (short
passages say a word once; saturating at one is BM25 with k1 spent on the length term), and
scales by passage length against the average of its source kind (a 180-word book chunk is
not a 20-word verse). The score is the share of the query's weight a passage matches,
divided by its length factor: 0..1, so fusion can weigh it against cosine similarity.

Word frequencies come from the statistics ANALYZE keeps on the search_vector column
(pg_stats' most common elements and their frequencies): no table of our own to keep
current, and autovacuum refreshes it as the index grows. A word outside that list is rarer
than every word in it; with no statistics yet (a fresh index) every word weighs the same.
"""

from __future__ import annotations

import functools
import math
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import FloatField, QuerySet
from django.db.models.expressions import RawSQL

from apps.index.models import Passage

K1, B = 1.2, 0.75
# Only the rarest words choose which passages are ranked at all (every word still scores):
# together they may match about this share of the index. Every matched passage is read
# and scored, and at 100k passages the 13 words of one long question matched 12,000 (66 ms);
# a passage matching none of the rarest words seldom outscores one that does.
CHOOSING_SHARE = 0.02
_STATS_SECONDS = 600
# Average words (distinct lexemes) per passage of each kind until the index has its own
# figures: a kind with no passages when the statistics were read (the first book uploaded
# after start) must not be scored as if its 70-word chunks were 1-word passages.
DEFAULT_LENGTHS = {"bible": 10.0, "document": 70.0, "knowledge": 70.0}
_SHORT_NUMBER = re.compile(r"^\d{1,3}$")  # chapter and verse numbers say nothing in text
_cached: dict[str, Any] = {"at": -_STATS_SECONDS}


@dataclass(frozen=True)
class WeightedWord:
    lexeme: str
    idf: float
    share: float  # of the passages holding the word (an estimate from the statistics)


@functools.lru_cache(maxsize=2048)
def query_lexemes(query: str) -> tuple[str, ...]:
    """The query's words as the index stores them: stemmed, stop words dropped (the
    English configuration never changes, so a query's lexemes are remembered)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tsvector_to_array(to_tsvector('english', %s))", [query])
        (lexemes,) = cursor.fetchone()
    return tuple(lexeme for lexeme in lexemes if not _SHORT_NUMBER.match(lexeme))


def weighted_words(query: str) -> list[WeightedWord]:
    stats = _statistics()
    frequencies, floor = stats["frequencies"], stats["floor"]
    words = []
    for lexeme in query_lexemes(query):
        share = frequencies.get(lexeme, floor)
        words.append(WeightedWord(lexeme, _idf(share), share))
    return words


def choosing_words(words: list[WeightedWord]) -> list[WeightedWord]:
    """The rarest words, while together they match at most CHOOSING_SHARE of the passages
    (always at least the rarest one)."""
    chosen: list[WeightedWord] = []
    matched = 0.0
    for word in sorted(words, key=lambda word: (word.share, word.lexeme)):
        if chosen and matched + word.share > CHOOSING_SHARE:
            break
        chosen.append(word)
        matched += word.share
    return chosen


def _idf(share: float) -> float:
    """BM25's inverse document frequency for a word found in `share` of the passages."""
    return math.log(1 + (1 - share + 1e-6) / (share + 1e-6))


def any_word_query(lexemes: Sequence[str]) -> SearchQuery:
    """A tsquery matching any of these lexemes (already stemmed, so the simple config)."""
    return SearchQuery(" | ".join(_quoted(lexeme) for lexeme in lexemes), search_type="raw", config="simple")


def text_ranking(
    passages: QuerySet[Passage], words: list[WeightedWord], *, limit: int
) -> list[tuple[uuid.UUID, float]]:
    """(id, score 0..1) of the `limit` passages that best match the query's weighted words."""
    if not words:
        return []
    ranked = (
        passages.filter(search_vector=any_word_query([word.lexeme for word in choosing_words(words)]))
        .annotate(text_score=bm25_score(words))
        .order_by("-text_score", "id")
        .values_list("id", "text_score")[:limit]
    )
    return list(ranked)


def bm25_score(words: list[WeightedWord]) -> RawSQL:
    """The BM25 share of the query's weight a passage matches, as an SQL expression."""
    total = sum(word.idf for word in words) or 1.0
    matched = " + ".join("CASE WHEN search_vector @@ to_tsquery('simple', %s) THEN %s ELSE 0 END" for _ in words)
    params: list[Any] = [value for word in words for value in (_quoted(word.lexeme), word.idf / total)]
    lengths = {**DEFAULT_LENGTHS, **_statistics()["lengths"]}
    kinds = " ".join("WHEN %s THEN %s" for _ in lengths)
    average = f"CASE source_kind {kinds} ELSE {max(DEFAULT_LENGTHS.values())} END"
    params += [value for kind, length in lengths.items() for value in (kind, length)]
    sql = (
        f"(({matched}) * {K1 + 1} / (1 + {K1} * (1 - {B} + {B} * length(search_vector)::float "
        f"/ GREATEST({average}, 1))))"
    )
    return RawSQL(sql, params, output_field=FloatField())


def _quoted(lexeme: str) -> str:
    """A lexeme as a one-word tsquery literal (quotes escaped, no operators)."""
    return "'" + lexeme.replace("'", "''").replace("\\", "\\\\") + "'"


def _statistics() -> dict[str, Any]:
    """Word frequencies and each source kind's average passage length, re-read every ten
    minutes (they move slowly: a new book barely changes the Bible's word counts)."""
    if time.monotonic() - _cached["at"] < _STATS_SECONDS:
        return _cached
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE tablename = %s AND attname = 'search_vector'",
            [Passage._meta.db_table],
        )
        row = cursor.fetchone()
        cursor.execute(
            f"SELECT source_kind, avg(length(search_vector)) FROM {Passage._meta.db_table} GROUP BY source_kind"
        )
        lengths = {kind: float(length) for kind, length in cursor.fetchall()}
    frequencies = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
    floor = min(frequencies.values()) / 2 if frequencies else 0.001
    _cached.update(at=time.monotonic(), frequencies=frequencies, floor=floor, lengths=lengths)
    return _cached


def forget_statistics() -> None:
    """Read the statistics afresh on the next search (after ANALYZE, and between tests)."""
    _cached["at"] = -_STATS_SECONDS


def word_statistics_refresh() -> None:
    """ANALYZE the index now (after a large load, such as a Bible) instead of waiting for
    autovacuum, so the new words weigh what they should from the next search on."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Passage._meta.db_table}")
    forget_statistics()
