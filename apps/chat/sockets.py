"""How many chat WebSockets are open, per user and in total, across every daphne process
(Redis sorted sets: member = channel name, score = when it connected; entries of a crashed
process expire after a day)."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import caches

STALE_SECONDS = 24 * 3600
_ALL = "theo:ws:chat:all"


def _user_key(user_id: Any) -> str:
    return f"theo:ws:chat:user:{user_id}"


def _client() -> Any:
    return caches["default"]._cache.get_client(write=True)  # type: ignore[attr-defined]  # RedisCache._cache: not in stubs


def socket_open(*, user_id: Any, channel_name: str, per_user: int, total: int) -> str:
    """Register a socket; returns "" when it may stay open, else "user" or "total" (the
    limit it would break, in which case it is not registered)."""
    client = _client()
    now = time.time()
    user_key = _user_key(user_id)
    with client.pipeline() as pipe:
        pipe.zremrangebyscore(user_key, 0, now - STALE_SECONDS)
        pipe.zremrangebyscore(_ALL, 0, now - STALE_SECONDS)
        pipe.zcard(user_key)
        pipe.zcard(_ALL)
        _, _, open_for_user, open_in_total = pipe.execute()
    if open_in_total >= total:
        return "total"
    if open_for_user >= per_user:
        return "user"
    with client.pipeline() as pipe:
        pipe.zadd(user_key, {channel_name: now})
        pipe.expire(user_key, STALE_SECONDS)
        pipe.zadd(_ALL, {channel_name: now})
        pipe.execute()
    return ""


def socket_closed(*, user_id: Any, channel_name: str) -> None:
    client = _client()
    with client.pipeline() as pipe:
        pipe.zrem(_user_key(user_id), channel_name)
        pipe.zrem(_ALL, channel_name)
        pipe.execute()
