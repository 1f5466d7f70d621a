"""Retrieval quality on the shared evaluation set: plain-words paraphrases of Bible verses
(`scripture_queries.jsonl`) searched with scope=bible, scored by recall@10 (a query hits
when any expected verse is among the first 10) and MRR, for vector-only, text-only and
hybrid search side by side.

The Bibles must be loaded and embedded: the first run does it here (several minutes),
later runs reuse them. THEO_EVAL_FILE points at another evaluation file."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command

from apps.bible.translations import bible_status
from apps.index.search import REFERENCE, TEXT, VECTOR, passages_search
from apps.users.models import User

EVAL_FILE = Path(
    os.environ.get("THEO_EVAL_FILE", settings.BASE_DIR.parent / "shared" / "eval" / "scripture_queries.jsonl")
)
K = 10
MODES = {"vector": [VECTOR], "text": [TEXT], "hybrid": [VECTOR, TEXT, REFERENCE]}


@dataclass
class Scores:
    recall: float
    mrr: float
    seconds_per_query: float


def load_queries(path: Path = EVAL_FILE) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def ensure_bibles() -> None:
    if all(status.complete for status in bible_status(cached=False)):
        return
    print("Loading and embedding the KJV and WEB first (once; several minutes)…")
    call_command("load_bibles")


def evaluate(user: User, queries: list[dict], methods: list[str], **options: Any) -> Scores:
    hits, reciprocal_ranks = 0, 0.0
    started = time.perf_counter()
    for query in queries:
        results = passages_search(user=user, query=query["q"], scope="bible", k=K, methods=methods, **options)
        references = [hit.passage.reference for hit in results.hits]
        rank = next((i for i, reference in enumerate(references, start=1) if reference in query["refs"]), None)
        if rank:
            hits += 1
            reciprocal_ranks += 1 / rank
    elapsed = (time.perf_counter() - started) / len(queries)
    return Scores(hits / len(queries), reciprocal_ranks / len(queries), elapsed)


def main() -> None:
    if not EVAL_FILE.exists():
        print(f"No evaluation file at {EVAL_FILE}; set THEO_EVAL_FILE.")
        return
    ensure_bibles()
    queries = load_queries()
    user, _ = User.objects.get_or_create(
        email="bench-retrieval@theo.invalid",
        defaults={"display_name": "Benchmark", "status": User.Status.APPROVED},
    )
    passages_search(user=user, query="warm up the model", scope="bible", k=K)
    translation = settings.SEARCH_DEFAULT_TRANSLATION
    print(f"{len(queries)} queries from {EVAL_FILE.name}, scope=bible, k={K}, translation={translation}")
    print(f"{'mode':<8} {'recall@10':>9} {'MRR':>6} {'ms/query':>9}")
    results = {mode: evaluate(user, queries, methods) for mode, methods in MODES.items()}
    for mode, scores in results.items():
        print(f"{mode:<8} {scores.recall:>9.2f} {scores.mrr:>6.3f} {1000 * scores.seconds_per_query:>9.0f}")
    best_single = max(results["vector"].mrr, results["text"].mrr)
    print(f"hybrid MRR / best single ranking: {results['hybrid'].mrr / best_single:.2f}")
    user.delete()
