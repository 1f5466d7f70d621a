"""How long a search takes, part by part, at 62k passages (the two Bibles) and at 100k.

The parts are timed apart on the paraphrase queries (embedding, text, candidates — the one
statement that finds the nearest passages by vector and their neighbours and scores every
candidate —, reference, headlines), then the whole
search as the API runs it (the query is embedded while the text ranking runs, so the parts
add up to more than the whole).

For 100k passages, 38k document passages are added for the run and removed after: pairs of
neighbouring verses joined into one text, their embedding the normalised sum of the two
(real English and realistic vectors, made in one SQL statement, no model call), owned by a
padding user whose searches in "all" scope then cover 100k passages."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction

from apps.core.cache import bypassed
from apps.index import fusion, search
from apps.index.embeddings import embed_texts, model_name
from apps.index.models import Passage
from apps.index.references import references_find
from apps.index.search import METHODS, passages_search
from apps.index.selectors import visible_passages
from apps.index.snippets import hits_of
from apps.index.text_ranking import forget_statistics, text_ranking, weighted_words, word_statistics_refresh
from apps.users.models import User
from bench import eval_sets
from bench.eval_sets import K

T = TypeVar("T")
PADDING = 38_000
PADDING_TITLE = "latency padding (bench/latency.py)"
PARTS = ("embedding", "text", "candidates", "reference", "headlines", "total")


def report(user: User) -> None:
    with bypassed():  # the search itself, not the two-tier cache in front of it
        _report(user)


def _report(user: User) -> None:
    queries = [item["q"] for name, items in eval_sets.verse_sets().items() if "paraphrase" in name for item in items]
    print_parts(f"latency of a scope=bible search over 62k verses, {len(queries)} queries", parts_of(user, queries))
    with padded() as padding_user:
        total = visible_passages(padding_user).count()
        title = f"latency of a scope=all search over {total:,} passages, {len(queries)} queries"
        print_parts(title, parts_of(padding_user, queries, scope="all"))


def parts_of(user: User, queries: list[str], *, scope: str = "bible") -> dict[str, list[float]]:
    recall = search._scoped(visible_passages(user), scope=scope, translation="all", source_ids=None)
    pool = settings.SEARCH_CANDIDATES
    parts: dict[str, list[float]] = {name: [] for name in PARTS}
    passages_search(user=user, query="warm up", scope=scope, k=K)
    for query in queries:
        vector = timed(parts["embedding"], embed_texts, [query])[0]
        words = weighted_words(query)
        matches = timed(parts["text"], text_ranking, recall, words, limit=pool)
        found, _ = timed(parts["candidates"], search._candidates, recall, words, vector, pool, matches, [])
        timed(parts["reference"], _referenced, recall, query, pool)
        weights = fusion.text_weights(query, words, found)
        ranked = search._ranked(found, methods=set(METHODS), display="web", k=K, weights=weights)
        timed(parts["headlines"], hits_of, search._shown(ranked, [], K), query)
        timed(parts["total"], passages_search, user=user, query=query, scope=scope, k=K)
    return parts


def print_parts(title: str, parts: dict[str, list[float]]) -> None:
    print(f"\n{title} (ms)")
    print(f"  {'part':<12}{'p50':>7}{'p95':>7}")
    for name, values in parts.items():
        p50, p95 = (1000 * eval_sets.percentile(values, share) for share in (0.5, 0.95))
        print(f"  {name:<12}{p50:>7.1f}{p95:>7.1f}")


@contextmanager
def padded() -> Iterator[User]:
    owner, _ = User.objects.get_or_create(
        email="bench-padding@theo.invalid", defaults={"display_name": "Padding", "status": User.Status.APPROVED}
    )
    try:
        _add_padding(owner)
        yield owner
    finally:
        Passage.objects.filter(title=PADDING_TITLE).delete()
        owner.delete()
        with connection.cursor() as cursor:  # dead rows out of the HNSW graph, statistics as before
            cursor.execute(f"VACUUM ANALYZE {Passage._meta.db_table}")
        forget_statistics()


def _add_padding(owner: User) -> None:
    table = Passage._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (id, source_kind, source_id, chunk_index, title, text, embedding,
                embedding_model, page_start, page_end, page_label, section, reference, translation,
                scripture_references, verse_ids, visibility, owner_id, shared_with, created_at)
            SELECT gen_random_uuid(), 'document', (md5(%s || (n / 50)::text))::uuid, n %% 50, %s,
                first.text || ' ' || second.text, l2_normalize(first.embedding + second.embedding),
                %s, 1 + n %% 50, 1 + n %% 50, (1 + n %% 50)::text, '', '', '',
                '{{}}', '{{}}', 'private', %s, '{{}}', now()
            FROM (
                SELECT row_number() OVER (ORDER BY p.translation, p.chunk_index) - 1 AS n, p.text,
                    p.embedding, p.source_id, p.chunk_index
                FROM {table} p WHERE p.source_kind = 'bible' AND p.embedding IS NOT NULL
            ) first
            JOIN {table} second ON second.source_kind = 'bible' AND second.source_id = first.source_id
                AND second.chunk_index = first.chunk_index + 1
            WHERE first.n < %s
            """,
            [str(uuid.uuid4()), PADDING_TITLE, model_name(), owner.pk, PADDING],
        )
    word_statistics_refresh()


def _referenced(candidates: Any, query: str, pool: int) -> list[Any]:
    references = references_find(query)
    return search._reference_matches(candidates, references, limit=pool) if references else []


def timed(into: list[float], call: Callable[..., T], *args: Any, **options: Any) -> T:
    started = time.perf_counter()
    result = call(*args, **options)
    into.append(time.perf_counter() - started)
    return result
