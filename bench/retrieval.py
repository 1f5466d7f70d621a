"""Retrieval quality and search latency on the development sets (bench/eval_sets.py).

`make bench BENCH=retrieval` prints, for every set and both halves (test first: that is
the figure to report), each single ranking beside the fused result; then follow-up
questions retrieved alone, joined with the turn before, and as a standalone rewrite; then
a book rendered to PDF pages and ingested, searched in "documents" and in "all" scope;
then the latency of each part of a search.

The Bibles must be loaded and embedded: the first run does it here (several minutes),
later runs reuse them."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.management import call_command

from apps.bible.translations import bible_status
from apps.index.search import METHODS, TEXT, VECTOR, passages_search
from apps.users.models import User
from bench import eval_sets, latency
from bench.eval_sets import SPLITS, K, first_rank, halves, scored
from bench.ingest import delete_document, ingest_pdf

T = TypeVar("T")
MODES = {"vector": [VECTOR], "text": [TEXT], "fused": list(METHODS)}
BOOK_DIR = eval_sets.EVAL_DIR / "book"


def ensure_bibles() -> None:
    if all(status.complete for status in bible_status(cached=False)):
        return
    print("Loading and embedding the KJV and WEB first (once; several minutes)…")
    call_command("load_bibles")


def verse_rank(user: User, query: str, refs: list[str], *, methods: list[str], scope: str = "bible", k: int = K) -> Any:
    hits = passages_search(user=user, query=query, scope=scope, k=k, methods=methods).hits
    return first_rank(hits, lambda hit: hit.passage.reference in refs)


def verse_ranker(
    user: User,
    methods: list[str],
    *,
    query_of: Callable[[dict[str, Any]], str] = lambda item: item["q"],
    scope: str = "bible",
    k: int = K,
) -> Callable[[dict[str, Any]], int | None]:
    def rank(item: dict[str, Any]) -> int | None:
        return verse_rank(user, query_of(item), item["refs"], methods=methods, scope=scope, k=k)

    return rank


def header(title: str, *, k: int = K) -> None:
    print(f"\n{title}")
    print(f"{'':<28}" + "".join(f"{f'{split} (n)':>10} {f'r@{k}':>5} {'MRR':>5} {'first':>5} " for split in SPLITS))


def by_split(items: list[dict[str, Any]], rank_of: Callable[[dict[str, Any]], int | None]) -> dict[str, list[Any]]:
    return {split: [rank_of(item) for item in part] for split, part in halves(items).items()}


def print_row(label: str, by_split: dict[str, list[Any]]) -> None:
    cells = "".join(f"{len(by_split[split]):>10} {scored(by_split[split]).row()} " for split in SPLITS)
    print(f"  {label:<26}{cells}")


def verse_sets(user: User) -> None:
    for name, items in eval_sets.verse_sets().items():
        if not items:
            print(f"\n{name}: no file")
            continue
        header(f"{name} (scope=bible, translation={settings.SEARCH_DEFAULT_TRANSLATION})")
        for mode, methods in MODES.items():
            print_row(mode, by_split(items, verse_ranker(user, methods)))


def follow_ups(user: User) -> None:
    from apps.chat.followups import rewrite  # the chat's offline rewrite (chat.followups)

    items = eval_sets.dialogues()
    if not items:
        print("\ndialogues: no file")
        return
    k = settings.CHAT_SOURCES
    header(f"follow-ups: the right verse among the {k} sources sent to Claude (scope=all, fused)", k=k)
    asked: dict[str, Callable[[dict[str, Any]], str]] = {
        "follow-up alone (today)": lambda item: item["turns"][1],
        "both turns joined": lambda item: " ".join(item["turns"]),
        "rewritten (deterministic)": lambda item: rewrite(item["turns"][1], previous=[item["turns"][0]]),
        "standalone rewrite (goal)": lambda item: item["standalone"],
    }
    for label, query_of in asked.items():
        print_row(label, by_split(items, verse_ranker(user, list(METHODS), query_of=query_of, scope="all", k=k)))


def book(user: User) -> None:
    questions = eval_sets.book_questions()
    if not questions or not (BOOK_DIR / "render.py").exists():
        print("\nbook: no set")
        return
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "book.pdf"
        subprocess.run([sys.executable, str(BOOK_DIR / "render.py"), str(pdf)], check=True)
        document, seconds = ingest_pdf(pdf, user, title="Development book")
    print(f"\nbook: {document.page_count} pages, {document.passage_count} passages, ingested in {seconds:.0f} s")
    try:
        for scope in ("documents", "all"):
            header(f"book questions: the right page (scope={scope})")
            for mode, methods in MODES.items():
                print_row(mode, by_split(questions, functools.partial(page_rank, user, scope=scope, methods=methods)))
            print_printed_page_row(user, questions, scope=scope)
    finally:
        delete_document(document, user)


def print_printed_page_row(user: User, questions: list[dict[str, Any]], *, scope: str) -> None:
    """How often the fused top hit's printed page (`page_label`) is the question's printed
    page, in the "first" column: what a reader checks against the book in hand."""
    cells = ""
    for part in halves(questions).values():
        matched = sum(top_label_matches(user, question, scope=scope) for question in part)
        cells += f"{len(part):>10} {'':>5} {'':>5} {matched / len(part) if part else 0.0:>5.0%} "
    print(f"  {'printed page, fused top':<26}{cells}")


def top_label_matches(user: User, question: dict[str, Any], *, scope: str) -> bool:
    hits = passages_search(user=user, query=question["q"], scope=scope, k=1, methods=list(METHODS)).hits
    top = hits[0].passage if hits else None
    return top is not None and top.source_kind == "document" and top.page_label == question["label"]


def page_rank(user: User, question: dict[str, Any], *, scope: str, methods: list[str]) -> int | None:
    hits = passages_search(user=user, query=question["q"], scope=scope, k=K, methods=methods).hits
    page = question["page"]

    def on_page(hit: Any) -> bool:
        passage = hit.passage
        return passage.source_kind == "document" and (passage.page_start or 0) <= page <= (passage.page_end or 0)

    return first_rank(hits, on_page)


def main() -> None:
    ensure_bibles()
    user, _ = User.objects.get_or_create(
        email="bench-retrieval@theo.invalid",
        defaults={"display_name": "Benchmark", "status": User.Status.APPROVED},
    )
    passages_search(user=user, query="warm up the model", scope="bible", k=K)
    parts = {"verses": verse_sets, "followups": follow_ups, "book": book, "latency": latency.report}
    chosen = os.environ.get("THEO_BENCH_PARTS", ",".join(parts)).split(",")  # e.g. "verses,latency"
    try:
        for name in chosen:
            parts[name.strip()](user)
    finally:
        user.delete()
