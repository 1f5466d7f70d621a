"""A two-tier cache for hot reads: a tier in this process, bounded in bytes, before Redis.

    vector = cached("query-embedding", f"{model}\\n{query}", lambda: embed(query), timeout=DAY)

The hot tier answers without leaving the process and forgets the least recently used
entries past CACHE_HOT_BYTES; Redis shares entries between processes and survives a
restart. A miss in both computes the value and stores it in both. A hot entry lives at most
HOT_SECONDS, so a value replaced in Redis by another process is not served stale here for
long; data that must never be stale (what a user may see) belongs in the key, not in a
timeout.

Redis is optional here. When it fails, this process leaves it alone for REDIS_RETRY_SECONDS
(a breaker of its own: the shared breakers live in Redis too) and computes the value: a
cache never turns an outage into an error. Every look-up is counted per tier on /metrics
(theo_cache_requests_total{tier,result}); `hit_rates()` gives /health the rates.

Values are pickled: the hot tier measures them in bytes and hands out copies, so a caller
that changes what it got cannot change what the next caller gets.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import redis
import structlog
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from apps.core.metrics import CACHE_RESULTS, CACHE_TIERS, cache_request_count
from apps.core.redis import redis_client

logger = structlog.get_logger(__name__)

T = TypeVar("T")
HOT, REDIS = CACHE_TIERS
KEY_PREFIX = "theo:cache"
HOT_SECONDS = 60.0
REDIS_RETRY_SECONDS = 15.0
_monotonic = time.monotonic


class HotTier:
    """Least recently used entries, at most `max_bytes` of pickled values in all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= _monotonic():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def set(self, key: str, data: bytes, timeout: float) -> None:
        if len(data) > self.max_bytes // 16:  # one big value must not empty the tier
            return
        with self._lock:
            self._drop(key)
            self._entries[key] = (_monotonic() + min(timeout, HOT_SECONDS), data)
            self._bytes += len(data)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[1])


_hot = HotTier(settings.CACHE_HOT_BYTES)
_redis_skipped_until = [0.0]
_bypassed = [False]
_counts: dict[tuple[str, str], int] = {(tier, result): 0 for tier in CACHE_TIERS for result in CACHE_RESULTS}


def cached(namespace: str, key: str, compute: Callable[[], T], *, timeout: float) -> T:
    """The value stored under (namespace, key), or `compute()`'s, stored in both tiers."""
    if _bypassed[0]:
        return compute()
    store_key = f"{KEY_PREFIX}:{namespace}:{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"
    data = _hot.get(store_key)
    _count(HOT, data is not None)
    if data is None:
        data = _redis_get(store_key)
        if data is not None:
            _hot.set(store_key, data, timeout)
    if data is not None:
        value: T = pickle.loads(data)
        return value
    value = compute()
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    _hot.set(store_key, data, timeout)
    _redis_set(store_key, data, timeout)
    return value


@contextlib.contextmanager
def bypassed() -> Iterator[None]:
    """Compute everything afresh meanwhile (benchmarks timing the work the cache saves)."""
    _bypassed[0] = True
    try:
        yield
    finally:
        _bypassed[0] = False


def hit_rates() -> dict[str, float | None]:
    """Each tier's share of hits among its look-ups in this process (None before any)."""
    rates: dict[str, float | None] = {}
    for tier in CACHE_TIERS:
        hits, misses = _counts[(tier, "hit")], _counts[(tier, "miss")]
        rates[tier] = round(hits / (hits + misses), 4) if hits + misses else None
    return rates


def forget_everything() -> None:
    """Empty the hot tier and the counts (tests; Redis entries expire on their own)."""
    _hot.clear()
    _redis_skipped_until[0] = 0.0
    for pair in _counts:
        _counts[pair] = 0


def _count(tier: str, hit: bool) -> None:
    _counts[(tier, "hit" if hit else "miss")] += 1
    cache_request_count(tier=tier, hit=hit)


def _redis_get(store_key: str) -> bytes | None:
    if _monotonic() < _redis_skipped_until[0]:
        return None
    try:
        data = redis_client().get(store_key)
    except redis.RedisError as exc:
        _redis_failed(exc)
        return None
    _count(REDIS, data is not None)
    return data if isinstance(data, bytes) else None


def _redis_set(store_key: str, data: bytes, timeout: float) -> None:
    if _monotonic() < _redis_skipped_until[0]:
        return
    try:
        redis_client().set(store_key, data, ex=max(1, int(timeout)))
    except redis.RedisError as exc:
        _redis_failed(exc)


def _redis_failed(exc: Exception) -> None:
    _redis_skipped_until[0] = _monotonic() + REDIS_RETRY_SECONDS
    logger.warning("cache.redis_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    # Tests point CACHES at a dead Redis and back, or resize the hot tier.
    if setting == "CACHES":
        _redis_skipped_until[0] = 0.0
    if setting == "CACHE_HOT_BYTES":
        _hot.max_bytes = settings.CACHE_HOT_BYTES
        _hot.clear()
