"""The retrieval development sets (bench/eval/) and how they are scored.

Each set is split once, in its file, into a tuning half and a test half: constants are
tuned on "tune" and the figures reported are those of "test". The shared visible set
(../shared/eval/) is shown for reference only: the current constants were tuned on it.

A ranked list is scored by the rank of its first right answer: recall@10 (any right answer
in the first 10), MRR (1 / that rank) and first (the right answer ranked first)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

EVAL_DIR = Path(__file__).resolve().parent / "eval"
SHARED_FILE = Path(
    os.environ.get("THEO_EVAL_FILE", settings.BASE_DIR.parent / "shared" / "eval" / "scripture_queries.jsonl")
)
K = 10
SPLITS = ("test", "tune")


@dataclass(frozen=True)
class Scores:
    queries: int
    recall: float
    mrr: float
    first: float

    def row(self) -> str:
        return f"{self.recall:>5.2f} {self.mrr:>5.2f} {self.first:>5.0%}"


def scored(ranks: Sequence[int | None], *, k: int = K) -> Scores:
    """Scores of first-right-answer ranks (None: not found in the first k)."""
    if not ranks:
        return Scores(0, 0.0, 0.0, 0.0)
    found = [rank for rank in ranks if rank is not None and rank <= k]
    return Scores(
        queries=len(ranks),
        recall=len(found) / len(ranks),
        mrr=sum(1 / rank for rank in found) / len(ranks),
        first=sum(1 for rank in found if rank == 1) / len(ranks),
    )


def first_rank(answers: Iterable[Any], is_right: Any) -> int | None:
    """1-based rank of the first answer for which is_right(answer) holds."""
    return next((rank for rank, answer in enumerate(answers, start=1) if is_right(answer)), None)


def load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def halves(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The set's own split; items without one (the shared set) count as tuning data."""
    return {split: [item for item in items if item.get("split", "tune") == split] for split in SPLITS}


def verse_sets() -> dict[str, list[dict[str, Any]]]:
    """Queries answered by verses ({"q", "refs"}), by set name."""
    paraphrase = load(EVAL_DIR / "paraphrase.jsonl")
    return {
        "shared (visible, tuned on)": load(SHARED_FILE),
        "paraphrase: familiar": [item for item in paraphrase if item.get("kind") == "familiar"],
        "paraphrase: narrative": [item for item in paraphrase if item.get("kind") == "narrative"],
        "thematic": load(EVAL_DIR / "thematic.jsonl"),
        "keywords (a verse's rarest words)": load(EVAL_DIR / "keywords.jsonl"),
    }


def dialogues() -> list[dict[str, Any]]:
    return load(EVAL_DIR / "dialogues.jsonl")


def book_questions() -> list[dict[str, Any]]:
    return load(EVAL_DIR / "book" / "questions.jsonl")


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0
