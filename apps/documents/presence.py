"""Who is in a document room, in Redis, with a bounded amount of work per join and leave
however full the room is (nothing decodes the whole room).

Per document (the `{id}` hash tag keeps the keys in one Redis Cluster slot):
- `conns`: channel name -> user id (so a leave counts once, however often it is called);
- `count`: user id -> open connections (a user with two tabs arrives once, leaves once);
- `users`: user id -> the user's presence JSON;
- `order`: user id by arrival time (the list sent on join: the first LIST_MAX arrivals).
Each join and leave is one Lua script: atomic, so concurrent tabs cannot miscount.
"""

from __future__ import annotations

import json
import time
from typing import Any

from apps.core.redis import redis_client
from apps.documents.realtime import PresenceUser

PRESENCE_TTL_SECONDS = 24 * 3600  # a crashed process's entries do not linger forever
LIST_MAX = 50  # users named in the presence list a joiner receives (the count says how many)

_JOIN = """
local arrived = 0
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then
    arrived = 1
    redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2])
  end
end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
local ids = redis.call('ZRANGE', KEYS[4], 0, tonumber(ARGV[6]) - 1)
local users = {}
if #ids > 0 then users = redis.call('HMGET', KEYS[3], unpack(ids)) end
return {arrived, redis.call('ZCARD', KEYS[4]), users}
"""

_LEAVE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) > 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
return 1
"""


def _keys(document_id: Any) -> list[str]:
    return [f"theo:presence:{{{document_id}}}:{part}" for part in ("conns", "count", "users", "order")]


def join(document_id: Any, channel_name: str, user: PresenceUser) -> tuple[list[PresenceUser], int, bool]:
    """Add a connection; returns (the first LIST_MAX users here now, by name; how many users
    are here; whether this user just arrived)."""
    arrived, count, raw = redis_client().eval(
        _JOIN, 4, *_keys(document_id), channel_name, user["id"], json.dumps(user), time.time(),
        PRESENCE_TTL_SECONDS, LIST_MAX,
    )  # fmt: skip
    users = [json.loads(value) for value in raw if value is not None]
    return sorted(users, key=lambda u: u["display_name"].lower()), int(count), bool(arrived)


def leave(document_id: Any, channel_name: str, user_id: str) -> bool:
    """Remove a connection; returns whether the user has no other connection left here."""
    return bool(redis_client().eval(_LEAVE, 4, *_keys(document_id), channel_name, user_id))
