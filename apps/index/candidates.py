"""The candidates of a search and every score fusion needs, in one SQL statement.

The vector ranking's nearest passages, the verses on either side of each nearest verse
(a sentence that runs over two verses matches neither alone), and the passages the other
rankings found (text, second model) are gathered and scored in one statement: cosine
similarity, the similarity of each verse joined with the next, and BM25. Done as three
queries (kNN, neighbours, features) it cost 25 ms at 100k passages, a third of it Django
compiling long IN lists and PostgreSQL planning them.

The recall queryset (the access rule, the scope) filters every part: its WHERE clause is
compiled once and applied to the kNN, the neighbours and the scored rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet
from pgvector import Vector

from apps.index import fusion
from apps.index.embeddings import model_name
from apps.index.models import Passage
from apps.index.text_ranking import WeightedWord, bm25_score

TABLE = Passage._meta.db_table
BIBLE = Passage.SourceKind.BIBLE
_FEATURES = f"{TABLE}.id, source_kind, source_id, chunk_index, verse_ids, translation"


def ef_search_for(limit: int) -> int:
    """HNSW candidate list size: twice the rows wanted, at least 80 (recall@10 0.92 on the
    100k scale benchmark, against 0.88 at pgvector's default of 40)."""
    return max(2 * int(limit), 80)


def scored_candidates(
    recall: QuerySet[Passage],
    *,
    words: list[WeightedWord],
    query_vector: Any | None,
    nearest: int,
    found_elsewhere: Sequence[uuid.UUID],
) -> tuple[dict[uuid.UUID, fusion.Candidate], list[tuple[uuid.UUID, float]]]:
    """Every candidate with its scores, and the vector ranking's `nearest` passages as
    (id, cosine distance), nearest first. `found_elsewhere`: ids the other rankings found
    among `recall`. pgvector's iterative scan keeps reading the HNSW graph until `nearest`
    rows pass the recall filter (a user who sees 1% of the index still gets them all)."""
    where, where_params = recall_where(recall)
    ctes, params = _wanted(where, where_params, query_vector, nearest, found_elsewhere)
    scores, score_params = _scores(words, query_vector)
    statement = (
        f"WITH {ctes} SELECT {_FEATURES}, {scores} FROM {TABLE} WHERE {TABLE}.id IN (SELECT id FROM wanted) AND {where}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', %s, true)",
            [str(ef_search_for(nearest))],
        )
        cursor.execute(statement, [*params, *score_params, *where_params])
        rows = cursor.fetchall()
    by_vector = sorted(((row[0], 1.0 - row[6]) for row in rows if row[-1]), key=lambda found: found[1])
    return fusion.candidates_from(row[:-1] for row in rows), by_vector


def _wanted(
    where: str, where_params: list[Any], query_vector: Any | None, nearest: int, found_elsewhere: Sequence[uuid.UUID]
) -> tuple[str, list[Any]]:
    """The CTEs `nearest` (the kNN under the recall filter) and `wanted` (every candidate's
    id: the nearest, the verses either side of each nearest verse, the ids found elsewhere)."""
    if query_vector is None:
        return "wanted AS (SELECT unnest(%s::uuid[]) AS id)", [list(found_elsewhere)]
    ctes = f"""nearest AS MATERIALIZED (
            SELECT id, source_kind, source_id, chunk_index FROM {TABLE}
            WHERE {where} AND embedding_model = %s ORDER BY embedding <=> %s::vector LIMIT %s),
        wanted AS (
            SELECT id FROM nearest UNION SELECT unnest(%s::uuid[]) UNION
            SELECT {TABLE}.id FROM {TABLE} JOIN nearest ON nearest.source_kind = %s
                AND {TABLE}.source_kind = %s AND {TABLE}.source_id = nearest.source_id
                AND {TABLE}.chunk_index IN (nearest.chunk_index - 1, nearest.chunk_index + 1)
            WHERE {where})"""
    vector = Vector(query_vector).to_text()
    params = [*where_params, model_name(), vector, nearest, list(found_elsewhere), BIBLE, BIBLE, *where_params]
    return ctes, params


def recall_where(recall: QuerySet[Passage]) -> tuple[str, list[Any]]:
    """The recall queryset's WHERE clause, on the passage table itself."""
    query = recall.query
    if set(query.alias_map) - {TABLE}:
        raise ValueError("the recall queryset must filter the passage table alone (no joins)")
    try:
        where, params = query.where.as_sql(query.get_compiler(connection=connection), connection)
    except EmptyResultSet:  # the rule lets this user see nothing (not approved)
        return "FALSE", []
    return where or "TRUE", list(params)


def _scores(words: list[WeightedWord], query_vector: Any | None) -> tuple[str, list[Any]]:
    """similarity, window (the verse joined with the next), text_score, nearest (found by
    the vector ranking): SQL and parameters."""
    text, text_params = _text_score_sql(words)
    if query_vector is None:
        return f"0.0, NULL, {text}, FALSE", text_params
    vector = Vector(query_vector).to_text()
    similarity = "CASE WHEN embedding_model = %s THEN 1 - (embedding <=> %s::vector) ELSE 0.0 END"
    # A verse's chunk index is its verse id, so the next verse of its chapter is chunk_index + 1.
    window = (
        f"(SELECT 1 - ((following.embedding + {TABLE}.embedding) <=> %s::vector) FROM {TABLE} following"
        f" WHERE {TABLE}.source_kind = %s AND following.source_kind = %s"
        f" AND following.source_id = {TABLE}.source_id AND following.chunk_index = {TABLE}.chunk_index + 1"
        f" AND following.embedding_model = {TABLE}.embedding_model AND {TABLE}.embedding_model = %s)"
    )
    sql = f"{similarity}, {window}, {text}, {TABLE}.id IN (SELECT id FROM nearest)"
    return sql, [model_name(), vector, vector, BIBLE, BIBLE, model_name(), *text_params]


def _text_score_sql(words: list[WeightedWord]) -> tuple[str, list[Any]]:
    if not words:
        return "0.0", []
    score = bm25_score(words)
    return score.sql, list(score.params)
