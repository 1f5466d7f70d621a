"""The redis-py client behind Django's Redis cache, for the few places that need Redis
itself (Lua scripts, sorted sets) rather than get/set: one server, one connection pool."""

from __future__ import annotations

import redis
from django.core.cache import caches


def redis_client() -> redis.Redis:
    try:
        return caches["default"]._cache.get_client(write=True)  # type: ignore[attr-defined]  # RedisCache._cache: not in stubs
    except AttributeError as exc:  # the default cache is not Django's RedisCache
        raise redis.ConnectionError("the default cache is not Redis") from exc
