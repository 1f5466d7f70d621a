"""How many WebSockets of each route are open, per user and in total, across every daphne
process: Redis sorted sets per route (member = channel name, score = when it was last seen
alive). Each process refreshes the scores of its own open sockets every REFRESH_SECONDS
(`keep_fresh`), so the entries of a process that crashed are dropped after STALE_SECONDS
instead of holding its users' places. Consumers register through ApprovedUserConsumer
(apps/users/consumers.py), which reads each route's limits."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from asgiref.sync import sync_to_async

from apps.core.redis import redis_client

REFRESH_SECONDS = 60.0
STALE_SECONDS = 5 * REFRESH_SECONDS

# The sockets open in this process: channel name -> (route, user id).
_live: dict[str, tuple[str, Any]] = {}
_live_lock = threading.Lock()
_refreshers: dict[int, asyncio.Task] = {}  # one per event loop (id of the loop)


def _total_key(route: str) -> str:
    return f"theo:ws:{route}:all"


def _user_key(route: str, user_id: Any) -> str:
    return f"theo:ws:{route}:user:{user_id}"


def open_count(*, route: str) -> int:
    """Sockets of `route` open now, in all processes."""
    return int(redis_client().zcard(_total_key(route)))


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
    refused = redis_client().eval(
        _OPEN,
        2,
        _user_key(route, user_id),
        _total_key(route),
        now,
        now - STALE_SECONDS,
        per_user,
        total,
        channel_name,
        int(STALE_SECONDS),
    )
    refused = refused.decode() if isinstance(refused, bytes) else str(refused or "")
    if not refused:
        with _live_lock:
            _live[channel_name] = (route, user_id)
    return refused


def socket_closed(*, route: str, user_id: Any, channel_name: str) -> None:
    with _live_lock:
        _live.pop(channel_name, None)
    client = redis_client()
    with client.pipeline() as pipe:
        pipe.zrem(_user_key(route, user_id), channel_name)
        pipe.zrem(_total_key(route), channel_name)
        pipe.execute()


def refresh_live() -> int:
    """Mark this process's open sockets as alive now (only those still registered: `xx`);
    returns how many."""
    with _live_lock:
        live = list(_live.items())
    if not live:
        return 0
    now = time.time()
    with redis_client().pipeline(transaction=False) as pipe:
        for channel_name, (route, user_id) in live:
            pipe.zadd(_user_key(route, user_id), {channel_name: now}, xx=True)
            pipe.expire(_user_key(route, user_id), int(STALE_SECONDS))
            pipe.zadd(_total_key(route), {channel_name: now}, xx=True)
        pipe.execute()
    return len(live)


async def keep_fresh() -> None:
    """Make sure this event loop refreshes its sockets every REFRESH_SECONDS (one task per
    loop, started by the first socket registered on it)."""
    loop = asyncio.get_running_loop()
    task = _refreshers.get(id(loop))
    if task is not None and not task.done():
        return

    async def refresh_forever() -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await sync_to_async(refresh_live, thread_sensitive=False)()
            except Exception:  # Redis away for a moment: try again next round
                continue

    _refreshers[id(loop)] = loop.create_task(refresh_forever(), name="theo-socket-refresh")
