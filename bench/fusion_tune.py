"""Fusion tuned offline: every development query searched once, every candidate kept, then
fusion rules replayed over that file in seconds instead of minutes.

    .venv/bin/python -m bench.fusion_tune capture /tmp/fusion.json   # ~5 min, needs the Bibles
    .venv/bin/python -m bench.fusion_tune replay /tmp/fusion.json    # the rule in index.fusion

`capture` runs the real search (vector, text, fused) for each query of the verse sets
(scope=bible) and of the book (scope=documents and all) and stores, per query, the ranks of
the three real runs, the query's weighted words, and each candidate's features as
search._ranked received them (similarity after windows, BM25 share, kind, which rankings
found it, whether it is a right answer). `replay` re-ranks those candidates with the
current index.fusion and prints the same table as bench.retrieval; its fused row must equal
the captured one (checked), so a variant measured here is what the benchmark will show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")

import django

from apps.core.embedded import ensure_services

ensure_services()
django.setup()

from django.conf import settings  # noqa: E402

from apps.index import fusion, search  # noqa: E402
from apps.index.models import Passage  # noqa: E402
from apps.index.text_ranking import WeightedWord, weighted_words  # noqa: E402
from bench import eval_sets  # noqa: E402
from bench.eval_sets import SPLITS, K, first_rank, halves, scored  # noqa: E402

MODES = {"vector": [search.VECTOR], "text": [search.TEXT], "fused": list(search.METHODS)}
Case = dict[str, Any]


def capture(path: Path) -> None:
    from apps.users.models import User
    from bench.ingest import delete_document, ingest_pdf
    from bench.retrieval import BOOK_DIR, ensure_bibles

    ensure_bibles()
    settings.SEARCH_CACHE_SECONDS = 0  # a cached result would skip the ranking this watches
    user, _ = User.objects.get_or_create(
        email="bench-fusion-tune@theo.invalid", defaults={"display_name": "Tuner", "status": User.Status.APPROVED}
    )
    cases: list[Case] = []
    try:
        for name, items in eval_sets.verse_sets().items():
            for item in items:
                cases.append(_captured(user, name, item, "bible", _one_of(set(item["refs"]))))
        with tempfile.TemporaryDirectory() as tmp:
            pdf = Path(tmp) / "book.pdf"
            subprocess.run([sys.executable, str(BOOK_DIR / "render.py"), str(pdf)], check=True)
            document, _ = ingest_pdf(pdf, user, title="Development book")
        try:
            for scope in ("documents", "all"):
                for item in eval_sets.book_questions():
                    cases.append(_captured(user, f"book ({scope})", item, scope, _on_page(item["page"])))
        finally:
            delete_document(document, user)
    finally:
        user.delete()
    path.write_text(json.dumps(cases))
    print(f"{len(cases)} queries captured to {path}")


def _one_of(refs: set[str]) -> Callable[[dict[str, Any]], bool]:
    return lambda row: row["reference"] in refs


def _on_page(page: int) -> Callable[[dict[str, Any]], bool]:
    return lambda row: row["source_kind"] == "document" and (row["page_start"] or 0) <= page <= (row["page_end"] or 0)


def _captured(
    user: Any, name: str, item: dict[str, Any], scope: str, is_right: Callable[[dict[str, Any]], bool]
) -> Case:
    seen: dict[str, Any] = {}
    ranked, references = search._ranked, search._reference_matches

    def keep_candidates(candidates: list[fusion.Candidate], **kwargs: Any) -> list[fusion.Candidate]:
        seen["candidates"] = [_features(candidate) for candidate in candidates]
        return ranked(candidates, **kwargs)

    def keep_references(*args: Any, **kwargs: Any) -> list[uuid.UUID]:
        seen["referenced"] = references(*args, **kwargs)
        return seen["referenced"]

    ranks = {}
    for mode, methods in MODES.items():
        search._ranked, search._reference_matches = keep_candidates, keep_references
        try:
            hits = search.passages_search(user=user, query=item["q"], scope=scope, k=K, methods=methods).hits
        finally:
            search._ranked, search._reference_matches = ranked, references
        rows = [_row(hit.passage) for hit in hits]
        ranks[mode] = first_rank(rows, is_right)
    candidates, referenced = seen["candidates"], [str(passage_id) for passage_id in seen.get("referenced", [])]
    ids = {candidate["id"] for candidate in candidates} | set(referenced)
    right = {str(p.pk) for p in Passage.objects.filter(pk__in=ids) if is_right(_row(p))}
    for candidate in candidates:
        candidate["right"] = candidate["id"] in right
    return {
        "set": name,
        "split": item.get("split", "tune"),
        "q": item["q"],
        "scope": scope,
        "ranks": ranks,
        "words": [[word.lexeme, word.idf, word.share] for word in weighted_words(item["q"])],
        "candidates": candidates,
        "referenced": [[passage_id, passage_id in right] for passage_id in referenced],
    }


def _row(passage: Passage) -> dict[str, Any]:
    return {
        "reference": passage.reference,
        "source_kind": passage.source_kind,
        "page_start": passage.page_start,
        "page_end": passage.page_end,
    }


def _features(candidate: fusion.Candidate) -> dict[str, Any]:
    return {
        "id": str(candidate.id),
        "source_kind": candidate.source_kind,
        "source_id": str(candidate.source_id),
        "chunk_index": candidate.chunk_index,
        "verse_ids": candidate.verse_ids,
        "translation": candidate.translation,
        "similarity": candidate.similarity,
        "text": candidate.text,
        "matched_by": candidate.matched_by,
    }


# --- replay -------------------------------------------------------------------------------


def candidates_of(case: Case) -> list[fusion.Candidate]:
    """Fresh Candidates of a captured query (replays change their scores)."""
    found = []
    for row in case["candidates"]:
        fields = {key: value for key, value in row.items() if key != "right"}
        fields["id"], fields["source_id"] = uuid.UUID(row["id"]), uuid.UUID(row["source_id"])
        found.append(fusion.Candidate(**fields))
    return found


def words_of(case: Case) -> list[WeightedWord]:
    return [WeightedWord(lexeme, idf, share) for lexeme, idf, share in case["words"]]


Weights = Callable[[Case, list[fusion.Candidate]], dict[str, float]]


def current_weights(case: Case, candidates: list[fusion.Candidate]) -> dict[str, float]:
    return fusion.text_weights(case["q"], words_of(case), candidates)


def fused_rank(case: Case, weights_of: Weights = current_weights) -> int | None:
    """The rank of the first right answer as passages_search would show it, fused."""
    candidates = candidates_of(case)
    right = {row["id"] for row in case["candidates"] if row["right"]}
    right |= {passage_id for passage_id, is_right in case["referenced"] if is_right}
    weights = weights_of(case, candidates)
    methods = set(search.METHODS)
    for candidate in candidates:
        candidate.score = fusion.fused(candidate, methods, vector=search.VECTOR, text=search.TEXT, weights=weights)
    ordered = sorted(candidates, key=lambda candidate: (-candidate.score, str(candidate.id)))
    display = settings.SEARCH_DEFAULT_TRANSLATION
    ranked = fusion.diversified(fusion.one_per_verse(ordered, display=display), K)
    shown = list(dict.fromkeys([passage_id for passage_id, _ in case["referenced"]] + [str(c.id) for c in ranked]))
    return first_rank(shown[:K], lambda passage_id: passage_id in right)


def table(cases: list[Case], weights_of: Weights = current_weights) -> dict[str, dict[str, dict[str, Any]]]:
    """Scores per set, mode ("vector", "text", "captured fused", "fused") and split."""
    by_set: dict[str, list[Case]] = {}
    for case in cases:
        by_set.setdefault(case["set"], []).append(case)
    scores: dict[str, dict[str, dict[str, Any]]] = {}
    for name, items in by_set.items():
        parts = halves(items)
        rows: dict[str, dict[str, Any]] = {}
        for mode in MODES:
            rows[mode if mode != "fused" else "captured fused"] = {
                split: scored([case["ranks"][mode] for case in part]) for split, part in parts.items()
            }
        rows["fused"] = {
            split: scored([fused_rank(case, weights_of) for case in part]) for split, part in parts.items()
        }
        scores[name] = rows
    return scores


def print_table(scores: dict[str, dict[str, dict[str, Any]]]) -> None:
    for name, rows in scores.items():
        print(f"\n{name}")
        print(f"{'':<20}" + "".join(f"{f'{split} (n)':>10} {f'r@{K}':>5} {'MRR':>5} {'first':>5} " for split in SPLITS))
        for mode, by_split in rows.items():
            cells = "".join(f"{by_split[split].queries:>10} {by_split[split].row()} " for split in SPLITS)
            print(f"  {mode:<18}{cells}")


def main(argv: list[str]) -> int:
    command, path = argv[0], Path(argv[1])
    if command == "capture":
        capture(path)
    else:
        print_table(table(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
