"""Passage search at scale: the real vector SQL (knowledge.search.nearest_by_vector over
knowledge.selectors.visible_passages) on 100,000 synthetic passages.

Figures, at k=10 over 200 query vectors:
- p50/p95 latency of the HNSW search over the whole index (no filter), against exact
  search (the same SQL with index scans disabled, i.e. a sequential scan) measured in the
  same run, and recall@10 of HNSW against that exact result;
- a user who sees 1% of the passages: latency, rows returned with pgvector's iterative
  scan and without it, and recall against exact search.

It runs in its own database, `theo_bench`, in the same PostgreSQL server: `main()`
creates it and re-runs this module in a child process whose DATABASE_URL points there, so
the whole Django stack runs against it and the developer's data is never touched. The
100k passages stay between runs and are reused when they are complete; a population is
one transaction, so an interrupted run leaves the previous state (or an empty table).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

BENCH_DATABASE = "theo_bench"
PASSAGES = 100_000
DIMENSIONS = 384
CENTRES = 1_000  # Gaussian clusters ("subjects"), grouped under TOPICS
TOPICS = 50
LOCAL_RANK = 8  # each cluster varies mostly along its own 8 directions, plus isotropic noise
OWNERS = 200  # fake owners (plain UUIDs) of the private passages
CHUNKS_PER_DOCUMENT = 50
VISIBLE = PASSAGES // 100  # exactly 1%, owned by the bench user: 20 whole documents
QUERIES = 200
K = 10
SEED = 20_250_613
# The title of every synthetic passage: change it when the generation changes, so an old
# population is rebuilt rather than reused.
DATA_TAG = f"scale-bench v1 seed={SEED}"
HNSW_INDEX = "passage_embedding_hnsw"
HNSW_DDL = (
    f"CREATE INDEX {HNSW_INDEX} ON knowledge_passage USING hnsw (embedding vector_cosine_ops) "
    "WITH (m = 16, ef_construction = 64)"
)  # exactly the migration's definition (knowledge.models.Passage.Meta.indexes)
BUILD_MAINTENANCE_WORK_MEM = "1GB"  # the graph (~200 MB) must fit, or the build crawls
STAFF_EMAIL = "scale-bench-admin@theo.invalid"
USER_EMAIL = "scale-bench-user@theo.invalid"


# --- parent: the developer's database ------------------------------------------------------


def main() -> None:
    from django.conf import settings
    from django.db import connection

    if connection.settings_dict["NAME"] == BENCH_DATABASE:
        run()  # already pointed at the bench database
        return
    created = _ensure_database()
    env = {**os.environ, "DATABASE_URL": _bench_url(settings.DATABASE_URL)}
    env.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")
    default = connection.settings_dict["NAME"]
    print(f"database: {BENCH_DATABASE} ({'created' if created else 'exists'}), on the server of {default!r}")
    sys.stdout.flush()
    child = subprocess.run([sys.executable, "-m", "bench.scale"], cwd=settings.BASE_DIR, env=env, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"the scale benchmark failed in its child process (exit status {child.returncode})")


def _ensure_database() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:  # autocommit: CREATE DATABASE may not run in a transaction
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE])
        if cursor.fetchone():
            return False
        cursor.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
        return True


def _bench_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))


# --- child: everything below runs against theo_bench --------------------------------------


def run() -> None:
    from django.core.management import call_command
    from django.db import connection

    assert connection.settings_dict["NAME"] == BENCH_DATABASE, "refusing to run outside the bench database"
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    staff, user = _bench_users()
    vectors, centres = _ensure_population(user.pk)
    queries = _queries(vectors, centres)
    _report(staff, user, queries)
    print(f"total: {time.perf_counter() - started:.0f} s in the bench process")


def _bench_users() -> tuple[Any, Any]:
    from apps.users.models import User

    users = []
    accounts = ((STAFF_EMAIL, User.Role.ADMIN, "Scale admin"), (USER_EMAIL, User.Role.USER, "Scale user"))
    for email, role, name in accounts:
        user, _ = User.objects.get_or_create(
            email=email, defaults={"display_name": name, "role": role, "status": User.Status.APPROVED}
        )
        if user.role != role or user.status != User.Status.APPROVED:
            user.role, user.status = role, User.Status.APPROVED
            user.save(update_fields=["role", "status"])
        users.append(user)
    assert users[0].is_staff and not users[1].is_staff and not users[1].is_guest
    return users[0], users[1]


# --- synthetic data -------------------------------------------------------------------------


def _unit(array: np.ndarray) -> np.ndarray:
    return (array / np.linalg.norm(array, axis=-1, keepdims=True)).astype(np.float32)


def synthetic_vectors() -> tuple[np.ndarray, np.ndarray]:
    """(PASSAGES x 384 unit vectors, CENTRES x 384 cluster centres), deterministic.

    Topics -> cluster centres (uneven cluster sizes) -> points that vary along a few
    directions of their own plus isotropic noise: a query's 10th neighbour sits at cosine
    similarity ~0.65, its 1000th at ~0.3, in the range real sentence embeddings show."""
    rng = np.random.default_rng(SEED)
    topics = _unit(rng.standard_normal((TOPICS, DIMENSIONS)))
    centres = _unit(topics[rng.integers(0, TOPICS, CENTRES)] + 0.9 * _unit(rng.standard_normal((CENTRES, DIMENSIONS))))
    weights = rng.lognormal(0.0, 0.6, CENTRES)
    cluster = rng.choice(CENTRES, PASSAGES, p=weights / weights.sum())
    basis = (rng.standard_normal((CENTRES, LOCAL_RANK, DIMENSIONS)) / np.sqrt(DIMENSIONS)).astype(np.float32)
    spread = rng.uniform(0.6, 1.4, CENTRES).astype(np.float32)
    local = (rng.standard_normal((PASSAGES, LOCAL_RANK)) * 0.35).astype(np.float32)
    vectors = np.empty((PASSAGES, DIMENSIONS), dtype=np.float32)
    order = np.argsort(cluster, kind="stable")
    bounds = np.searchsorted(cluster[order], np.arange(CENTRES + 1))
    for c in range(CENTRES):
        members = order[bounds[c] : bounds[c + 1]]
        vectors[members] = centres[c] + spread[c] * (local[members] @ basis[c])
    vectors += rng.standard_normal((PASSAGES, DIMENSIONS), dtype=np.float32) * (0.02 * spread[cluster])[:, None]
    return _unit(vectors), centres


def _queries(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Half perturbed passages ("more like this"), half perturbed centres (a topic)."""
    rng = np.random.default_rng(SEED + 1)
    half = QUERIES // 2
    near_points = vectors[rng.choice(len(vectors), half, replace=False)]
    near_centres = centres[rng.choice(len(centres), QUERIES - half, replace=False)]
    noise = rng.standard_normal((QUERIES, DIMENSIONS), dtype=np.float32) * 0.03
    return _unit(np.concatenate([near_points, near_centres]) + noise)


def _uuids(rng: np.random.Generator, count: int) -> list[uuid.UUID]:
    return [uuid.UUID(bytes=raw.tobytes(), version=4) for raw in rng.integers(0, 256, (count, 16), dtype=np.uint8)]


# --- population ---------------------------------------------------------------------------


def _population_complete(user_id: uuid.UUID) -> bool:
    from django.db import connection

    from apps.index.embeddings import model_name

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE title = %s AND embedding_model = %s AND embedding IS NOT NULL),"
            " count(*) FILTER (WHERE owner_id = %s) FROM knowledge_passage",
            [DATA_TAG, model_name(), user_id],
        )
        total, tagged, owned = cursor.fetchone()
        cursor.execute(
            "SELECT pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
            [HNSW_INDEX],
        )
        index = cursor.fetchone()
    index_ok = bool(index and index[1] and "hnsw (embedding vector_cosine_ops)" in index[0])
    return total == tagged == PASSAGES and owned == VISIBLE and index_ok


def _ensure_population(user_id: uuid.UUID) -> tuple[np.ndarray, np.ndarray]:
    started = time.perf_counter()
    vectors, centres = synthetic_vectors()
    generated = time.perf_counter() - started
    if _population_complete(user_id):
        print(f"data: reusing {PASSAGES:,} synthetic passages from a previous run (generation {generated:.1f} s)")
        return vectors, centres
    timings = _populate(vectors, user_id)
    print(
        f"data: {PASSAGES:,} passages ({CENTRES:,} clusters, {DIMENSIONS}-d): generation {generated:.1f} s, "
        f"COPY {timings['copy']:.1f} s, HNSW build {timings['index']:.1f} s "
        f"(m=16, ef_construction=64, maintenance_work_mem={BUILD_MAINTENANCE_WORK_MEM}), "
        f"ANALYZE {timings['analyze']:.1f} s, VACUUM {timings['vacuum']:.1f} s"
    )
    return vectors, centres


COPY_COLUMNS = [
    ("id", "uuid"),
    ("source_kind", "varchar"),
    ("source_id", "uuid"),
    ("chunk_index", "int4"),
    ("title", "varchar"),
    ("text", "text"),
    ("embedding", "vector"),
    ("embedding_model", "varchar"),
    ("reference", "varchar"),
    ("translation", "varchar"),
    ("scripture_references", "varchar[]"),
    ("verse_ids", "int4[]"),
    ("visibility", "varchar"),
    ("owner_id", "uuid"),
    ("shared_with", "uuid[]"),
    ("created_at", "timestamptz"),
]


def _rows(vectors: np.ndarray, user_id: uuid.UUID) -> Iterator[tuple[Any, ...]]:
    from apps.index.embeddings import model_name
    from apps.index.models import Passage

    rng = np.random.default_rng(SEED + 2)
    documents = PASSAGES // CHUNKS_PER_DOCUMENT
    document_ids = _uuids(rng, documents)
    owners = _uuids(rng, OWNERS)
    document_owner: list[uuid.UUID] = [owners[i] for i in rng.integers(0, OWNERS, documents)]
    for document in rng.choice(documents, VISIBLE // CHUNKS_PER_DOCUMENT, replace=False):
        document_owner[document] = user_id
    passage_ids = _uuids(rng, PASSAGES)
    model, now = model_name(), datetime.now(UTC)
    kind, private = Passage.SourceKind.DOCUMENT.value, Passage.Visibility.PRIVATE.value
    for i in range(PASSAGES):
        document, chunk = divmod(i, CHUNKS_PER_DOCUMENT)
        yield (
            passage_ids[i],
            kind,
            document_ids[document],
            chunk,
            DATA_TAG,
            f"Synthetic passage {i}.",  # short: the generated search_vector is computed from it
            vectors[i],
            model,
            "",
            "",
            [],
            [],
            private,
            document_owner[document],
            [],
            now,
        )


def _populate(vectors: np.ndarray, user_id: uuid.UUID) -> dict[str, float]:
    from django.db import connection, transaction
    from pgvector.psycopg.vector import register_vector_info
    from psycopg.types import TypeInfo

    assert connection.settings_dict["NAME"] == BENCH_DATABASE, "refusing to truncate outside the bench database"
    timings = {}
    # One transaction: an interrupted population rolls back to the previous state.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MAINTENANCE_WORK_MEM}'")
        cursor.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
        # CASCADE: documents' citations reference passages (empty in this database).
        cursor.execute("TRUNCATE knowledge_passage CASCADE")
        started = time.perf_counter()
        raw = connection.connection
        info = TypeInfo.fetch(raw, "vector")
        columns = ", ".join(name for name, _ in COPY_COLUMNS)
        with raw.cursor() as copy_cursor:
            register_vector_info(copy_cursor, info)  # this cursor only: the ORM's adapters stay as they are
            # FREEZE: the table was truncated in this transaction, so rows are written frozen.
            with copy_cursor.copy(
                f"COPY knowledge_passage ({columns}) FROM STDIN WITH (FORMAT BINARY, FREEZE)"
            ) as copy:
                copy.set_types([type_name for _, type_name in COPY_COLUMNS])
                for row in _rows(vectors, user_id):
                    copy.write_row(row)
        timings["copy"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute(HNSW_DDL)
        timings["index"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute("ANALYZE knowledge_passage")
        timings["analyze"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM knowledge_passage")  # visibility map; autocommit, outside the transaction
    timings["vacuum"] = time.perf_counter() - started
    return timings


# --- measurement ----------------------------------------------------------------------------


@contextmanager
def _planner(**settings: str) -> Iterator[None]:
    """Session-level planner settings around the real call (nearest_by_vector opens its own
    transaction, exactly as in the app)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute(f"SET {name} = {value}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name in settings:
                cursor.execute(f"RESET {name}")


EXACT = {"enable_indexscan": "off"}  # HNSW is an index scan; exact = the best plan without one


def _search(passages: Any, query: np.ndarray, *, iterative: bool = True) -> tuple[list[Any], float]:
    from apps.index.search import nearest_by_vector

    started = time.perf_counter()
    rows = nearest_by_vector(passages, query, limit=K, iterative=iterative)
    return rows, time.perf_counter() - started


class Case:
    def __init__(self, label: str, passages: Any, planner: dict[str, str], iterative: bool = True) -> None:
        self.label, self.passages, self.planner, self.iterative = label, passages, planner, iterative
        self.times: list[float] = []
        self.results: list[list[Any]] = []

    def run(self, query: np.ndarray, keep: bool = True) -> None:
        with _planner(**self.planner):
            rows, elapsed = _search(self.passages, query, iterative=self.iterative)
        if keep:
            self.times.append(elapsed)
            self.results.append([passage_id for passage_id, _ in rows])

    def plan(self, query: np.ndarray) -> list[str]:
        """EXPLAIN ANALYZE of the very SQL nearest_by_vector sends, with its SET LOCALs."""
        from django.db import connection, transaction
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            self.run(query, keep=False)
        statements = [q["sql"] for q in captured.captured_queries]
        select = next(sql for sql in statements if sql.lstrip().upper().startswith("SELECT"))
        set_locals = [sql for sql in statements if sql.startswith("SET LOCAL")]
        with _planner(**self.planner), transaction.atomic(), connection.cursor() as cursor:
            for statement in set_locals:
                cursor.execute(statement)
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {select}")
            lines = [line for (line,) in cursor.fetchall()]
        keep = ("->", "Limit", "Sort Method", "Rows Removed", "Workers", "JIT")
        return [line for line in lines if any(word in line for word in keep) or line == lines[0]]

    def uses_hnsw(self, plan: list[str]) -> bool:
        return any(f"Index Scan using {HNSW_INDEX}" in line for line in plan)


def _report(staff: Any, user: Any, queries: np.ndarray) -> None:
    from apps.index.models import Passage
    from apps.index.selectors import visible_passages

    # No reader sees all 100k (staff retrieve like everyone else): the unfiltered index.
    everyone = Passage.objects.filter(source_kind="document")
    one_percent = visible_passages(user).filter(source_kind="document")
    assert everyone.count() == PASSAGES and one_percent.count() == VISIBLE
    cases = {
        "staff_hnsw": Case("unfiltered (all 100k), HNSW", everyone, {}),
        "staff_exact": Case("unfiltered (all 100k), exact", everyone, EXACT),
        "user_iter": Case("1%-visible user, iterative scan", one_percent, {}),
        "user_noiter": Case("1%-visible user, iterative off", one_percent, {}, iterative=False),
        "user_exact": Case("1%-visible user, exact", one_percent, EXACT),
    }
    _print_sizes()
    print("\nplans (EXPLAIN ANALYZE of the SQL nearest_by_vector sent, first query):")
    plans = {key: _show_plan(case, queries[0]) for key, case in cases.items()}
    assert cases["staff_hnsw"].uses_hnsw(plans["staff_hnsw"]), "the staff search should use the HNSW index"
    assert not cases["staff_exact"].uses_hnsw(plans["staff_exact"]), "the exact baseline must not use HNSW"
    assert not cases["user_exact"].uses_hnsw(plans["user_exact"]), "the exact baseline must not use HNSW"
    if not cases["user_iter"].uses_hnsw(plans["user_iter"]):
        # The planner preferred an exact plan for the 1% user (its rows are found by the
        # owner index): measure the HNSW path too, forced by forbidding the sort that
        # every other plan needs.
        forced = {"enable_sort": "off"}
        cases["user_iter_forced"] = Case("1%-visible user, HNSW forced, iterative", one_percent, forced)
        cases["user_noiter_forced"] = Case(
            "1%-visible user, HNSW forced, iterative off", one_percent, forced, iterative=False
        )
        for key in ("user_iter_forced", "user_noiter_forced"):
            plans[key] = _show_plan(cases[key], queries[0])

    for case in cases.values():  # warm up: caches, connection, index pages
        for query in queries[:10]:
            case.run(query, keep=False)
    started = time.perf_counter()
    # Interleaved, so drift on a busy machine hits every case alike; rotated, so no case is
    # always the first to fetch a query's pages (the index does not fit in shared_buffers).
    order = list(cases.values())
    for number, query in enumerate(queries):
        for case in order[number % len(order) :] + order[: number % len(order)]:
            case.run(query)
    measured = time.perf_counter() - started

    from apps.index.candidates import ef_search_for

    ef_search = ef_search_for(K)
    print(f"\n{QUERIES} queries, k={K}, hnsw.ef_search={ef_search} (nearest_by_vector's); measured in {measured:.0f} s")
    header = f"{'case':45} {'p50 ms':>8} {'p95 ms':>8} {'rows mean/min':>14} {'recall@10':>10}"
    print(header)
    print("-" * len(header))
    baselines = {"staff": cases["staff_exact"], "user": cases["user_exact"]}
    for key, case in cases.items():
        exact = baselines[key.split("_")[0]]
        rows = [len(result) for result in case.results]
        print(
            f"{case.label:45} {_ms(case.times, 50):8.2f} {_ms(case.times, 95):8.2f} "
            f"{statistics.mean(rows):8.1f} / {min(rows):<3} {_recall(case.results, exact.results):10.3f}"
        )
    print("-" * len(header))
    ratios = [
        ("staff: exact / HNSW", cases["staff_hnsw"], cases["staff_exact"]),
        ("1% user: exact / iterative scan", cases["user_iter"], cases["user_exact"]),
    ]
    if "user_iter_forced" in cases:
        ratios.append(("1% user: exact / iterative (HNSW forced)", cases["user_iter_forced"], cases["user_exact"]))
    for name, fast, exact in ratios:
        print(
            f"{name:45} p50 x{_ms(exact.times, 50) / _ms(fast.times, 50):.1f}, "
            f"p95 x{_ms(exact.times, 95) / _ms(fast.times, 95):.1f}"
        )
    iterative_rows = [len(result) for result in cases["user_iter"].results]
    print(
        f"1% user gets k rows with iterative scan: {'yes' if min(iterative_rows) == K else 'NO'} "
        f"(min {min(iterative_rows)} of {K})"
    )


def _show_plan(case: Case, query: np.ndarray) -> list[str]:
    plan = case.plan(query)
    print(f"  {case.label}: {'HNSW index scan' if case.uses_hnsw(plan) else 'no HNSW index'}")
    for line in plan:
        print(f"      {line}")
    return plan


def _print_sizes() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_table_size('knowledge_passage')),"
            f" pg_size_pretty(pg_relation_size('{HNSW_INDEX}')), current_setting('shared_buffers'),"
            " current_setting('max_parallel_workers_per_gather'), current_setting('jit')"
        )
        table, index, shared_buffers, workers, jit = cursor.fetchone()
    print(
        f"sizes: table {table}, HNSW index {index}; server: shared_buffers {shared_buffers}, "
        f"max_parallel_workers_per_gather {workers}, jit {jit}"
    )


def _ms(times: list[float], percentile: float) -> float:
    return float(np.percentile(times, percentile)) * 1000


def _recall(results: list[list[Any]], exact: list[list[Any]]) -> float:
    return statistics.mean(len(set(got) & set(truth)) / K for got, truth in zip(results, exact, strict=True))


def _child() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")
    import django

    from apps.core.embedded import ensure_services

    ensure_services()
    django.setup()
    run()


if __name__ == "__main__":
    _child()
