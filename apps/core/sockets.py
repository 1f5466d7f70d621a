"""How many WebSockets of each route are open, per user and in total, across every daphne
process: Redis sorted sets per route (member = channel name, score = when it connected;
entries of a crashed process expire after a day). Consumers register through
ApprovedUserConsumer (apps/users/consumers.py), which reads each route's limits."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import caches

STALE_SECONDS = 24 * 3600


def _total_key(route: str) -> str:
    return f"theo:ws:{route}:all"


def _user_key(route: str, user_id: Any) -> str:
    return f"theo:ws:{route}:user:{user_id}"


def _client() -> Any:
    return caches["default"]._cache.get_client(write=True)


def open_count(*, route: str) -> int:
    """Sockets of `route` open now, in all processes."""
    return int(_client().zcard(_total_key(route)))


# Check and add in one step: two sockets connecting at once cannot both take the last place.
_OPEN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], 0, ARGV[2])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 'total' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 'user' end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[5])
return ''
"""


def socket_open(*, route: str, user_id: Any, channel_name: str, per_user: int, total: int) -> str:
    """Register a socket; returns "" when it may stay open, else "user" or "total" (the
    limit it would break, in which case it is not registered)."""
    now = time.time()
    refused = _client().eval(
        _OPEN,
        2,
        _user_key(route, user_id),
        _total_key(route),
        now,
        now - STALE_SECONDS,
        per_user,
        total,
        channel_name,
        STALE_SECONDS,
    )
    return refused.decode() if isinstance(refused, bytes) else str(refused or "")


def socket_closed(*, route: str, user_id: Any, channel_name: str) -> None:
    client = _client()
    with client.pipeline() as pipe:
        pipe.zrem(_user_key(route, user_id), channel_name)
        pipe.zrem(_total_key(route), channel_name)
        pipe.execute()
