"""The two-tier cache (apps/core/cache.py): the hot tier in this process, bounded in
bytes, before the real Redis; Redis down falls through to the source; every look-up
counted per tier on /metrics and as a hit rate on /health."""

from __future__ import annotations

import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from apps.core import cache as two_tier
from apps.core.cache import HOT, REDIS, HotTier, cached, hit_rates
from apps.core.redis import redis_client
from tests.core.test_breaker import DEAD_REDIS_CACHES


def counted(tier: str, result: str) -> float:
    return REGISTRY.get_sample_value("theo_cache_requests_total", {"tier": tier, "result": result}) or 0.0


class Source:
    """A value source that counts how often it is asked."""

    def __init__(self, value: Any) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.value


def test_a_value_is_computed_once_then_served_by_the_hot_tier() -> None:
    source = Source({"verses": ["In the beginning"]})
    hot_hits = counted(HOT, "hit")
    assert cached("test", "genesis", source, timeout=60) == {"verses": ["In the beginning"]}
    assert cached("test", "genesis", source, timeout=60) == {"verses": ["In the beginning"]}
    assert source.calls == 1
    assert counted(HOT, "hit") == hot_hits + 1
    assert hit_rates()[HOT] == 0.5


def test_another_process_finds_the_value_in_redis() -> None:
    source = Source([1.0, 2.0])
    cached("test", "shared", source, timeout=60)
    two_tier._hot.clear()  # as if a second process: its hot tier is empty
    redis_hits = counted(REDIS, "hit")
    assert cached("test", "shared", Source("never asked"), timeout=60) == [1.0, 2.0]
    assert counted(REDIS, "hit") == redis_hits + 1
    keys: list[bytes] = list(redis_client().keys("theo:cache:test:*"))  # type: ignore[arg-type]  # sync client
    assert any(key.startswith(b"theo:cache:test:") for key in keys)


def test_a_caller_changing_its_copy_changes_nothing_for_the_next() -> None:
    first = cached("test", "list", Source([1, 2]), timeout=60)
    first.append(3)
    assert cached("test", "list", Source("never asked"), timeout=60) == [1, 2]


def test_the_hot_tier_forgets_the_least_recently_used_past_its_bytes() -> None:
    tier = HotTier(max_bytes=16 * 100)
    for key in ("a", "b", "c"):
        tier.set(key, b"x" * 90, timeout=60)
    tier.get("a")  # a is now more recent than b
    for key in ("d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r"):
        tier.set(key, b"x" * 90, timeout=60)
    assert tier.size_bytes <= 16 * 100
    assert tier.get("b") is None
    tier.set("huge", b"x" * 200, timeout=60)  # over a sixteenth of the tier: not kept
    assert tier.get("huge") is None


def test_a_hot_entry_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    tier = HotTier(max_bytes=10_000)
    tier.set("k", b"value", timeout=1)
    now = time.monotonic()
    monkeypatch.setattr(two_tier, "_monotonic", lambda: now + 2)
    assert tier.get("k") is None and tier.size_bytes == 0


def test_with_redis_down_the_source_answers_without_error_or_wait(settings: Any) -> None:
    settings.CACHES = DEAD_REDIS_CACHES
    source = Source("computed")
    started = time.monotonic()
    assert cached("test", "down-1", source, timeout=60) == "computed"
    assert cached("test", "down-2", source, timeout=60) == "computed"  # the breaker skips Redis now
    assert source.calls == 2
    assert time.monotonic() - started < 5
    assert cached("test", "down-1", source, timeout=60) == "computed" and source.calls == 2  # the hot tier holds


@pytest.mark.django_db
def test_health_shows_the_hit_rate_and_metrics_the_counts(client: Any) -> None:
    cached("test", "health", Source(1), timeout=60)
    cached("test", "health", Source(1), timeout=60)
    body = client.get("/health").json()
    assert body["checks"]["cache"]["hit_rate"] == {"hot": 0.5, "redis": 0.0}
    text = client.get("/metrics").content.decode()
    assert 'theo_cache_requests_total{result="hit",tier="hot"}' in text


@pytest.mark.django_db
def test_a_repeated_search_embeds_its_query_once(user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.index import embeddings, search

    calls: list[list[str]] = []
    real = embeddings.embed_texts

    def counting(texts: list[str], **options: Any) -> Any:
        calls.append(list(texts))
        return real(texts, **options)

    monkeypatch.setattr(search, "embed_texts", counting)
    for k in (5, 10):  # two results (k is in their key), one query embedding
        search.passages_search(user=user, query="the kindness of Boaz to Ruth", scope="documents", k=k)
    assert calls == [["the kindness of Boaz to Ruth"]]


def test_a_scripture_lookup_is_served_by_the_hot_tier_the_second_time() -> None:
    from apps.bible.scripture import scripture_lookup

    hot_hits = counted(HOT, "hit")
    first = scripture_lookup(ref="Ruth 1:16", translation="kjv")
    again = scripture_lookup(ref="Ruth 1:16", translation="kjv")
    assert again == first and "whither thou goest" in first.verses[0].text
    assert counted(HOT, "hit") == hot_hits + 1


def test_bypassed_computes_every_time() -> None:
    source = Source("fresh")
    with two_tier.bypassed():
        cached("test", "bypassed", source, timeout=60)
        cached("test", "bypassed", source, timeout=60)
    assert source.calls == 2
    cached("test", "bypassed", source, timeout=60)
    cached("test", "bypassed", source, timeout=60)
    assert source.calls == 3
