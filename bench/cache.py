"""The two-tier cache (apps/core/cache.py) on a realistic mix: hit rate and time saved.

A study group asks much the same things: a few questions many times and a long tail
once. The mix draws 600 requests from the development sets' questions with Zipf-like
popularity (the i-th question weighs 1/i), spread over three readers, with a scripture
lookup beside every third search (the chat's verse tool). It is replayed twice on a cold
cache: once with the cache bypassed (every search computed), once through both tiers, and
then once more with the hot tier emptied before every request (a request landing on
another process finds only Redis).

Needs the Bibles loaded and embedded (python -m bench retrieval does it once)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache as django_cache

from apps.bible.scripture import scripture_lookup
from apps.core import cache as two_tier
from apps.index.search import passages_search
from apps.users.models import User
from bench import eval_sets
from bench.retrieval import ensure_bibles

REQUESTS = 600
READERS = 3
REFERENCES = ("John 3:16", "Romans 8:28-30", "Psalm 23", "Ruth 1:16-17", "Genesis 50:20", "Micah 6:8")


def mix(seed: int = 12) -> list[tuple[int, str]]:
    """(reader, question) pairs: popular questions often, the tail rarely."""
    questions = [item["q"] for items in eval_sets.verse_sets().values() for item in items]
    random.Random(seed).shuffle(questions)
    weights = [1 / (rank + 1) for rank in range(len(questions))]
    chooser = random.Random(seed + 1)
    picked = chooser.choices(questions, weights=weights, k=REQUESTS)
    return [(chooser.randrange(READERS), question) for question in picked]


def replay(requests: list[tuple[int, str]], readers: list[User], *, before_each: Callable[[], None]) -> float:
    started = time.perf_counter()
    for number, (reader, question) in enumerate(requests):
        before_each()
        passages_search(user=readers[reader], query=question, scope="bible", k=10)
        if number % 3 == 0:
            scripture_lookup(ref=REFERENCES[number % len(REFERENCES)], translation="web")
    return time.perf_counter() - started


def cold() -> None:
    django_cache.clear()
    two_tier.forget_everything()


def main() -> None:
    ensure_bibles()
    readers = [
        User.objects.get_or_create(
            email=f"bench-cache-{n}@theo.invalid", defaults={"display_name": f"Reader {n}", "status": "approved"}
        )[0]
        for n in range(READERS)
    ]
    requests = mix()
    print(f"\n{len(requests)} requests, {len({q for _, q in requests})} distinct questions, {READERS} readers")
    try:
        cold()
        with two_tier.bypassed():
            uncached = replay(requests, readers, before_each=lambda: None)
        cold()
        both = replay(requests, readers, before_each=lambda: None)
        rates = two_tier.hit_rates()
        cold()
        redis_only = replay(requests, readers, before_each=two_tier._hot.clear)
        redis_rates = two_tier.hit_rates()
    finally:
        cold()
        User.objects.filter(pk__in=[reader.pk for reader in readers]).delete()
    print_row("no cache", uncached, uncached, {})
    print_row("both tiers", both, uncached, rates)
    print_row("Redis only", redis_only, uncached, redis_rates)


def print_row(label: str, seconds: float, baseline: float, rates: dict[str, Any]) -> None:
    per_request = 1000 * seconds / REQUESTS
    shown = ", ".join(f"{tier} hit rate {rate:.0%}" for tier, rate in rates.items() if rate is not None)
    print(f"  {label:<12} {per_request:6.1f} ms a request  {baseline / seconds:5.2f}x  {shown}")
