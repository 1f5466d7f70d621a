"""The redis-py client behind Django's Redis cache, for the few places that need Redis
itself (Lua scripts, sorted sets) rather than get/set: one server, one connection pool; and
the broker's queue lengths."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis
from django.core.cache import caches
from kombu.exceptions import OperationalError


def redis_client() -> redis.Redis:
    try:
        return caches["default"]._cache.get_client(write=True)  # type: ignore[attr-defined]  # RedisCache._cache: not in stubs
    except AttributeError as exc:  # the default cache is not Django's RedisCache
        raise redis.ConnectionError("the default cache is not Redis") from exc


def broker_queue_depths(*, app: Any, queues: Iterable[str]) -> dict[str, int] | None:
    """Messages waiting in each Celery queue on the broker (its Redis lists, every priority
    counted), or None when the broker does not answer. One attempt and no retry loop: the
    staff Jobs page that shows these must render at once with Redis down."""
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            channel = connection.default_channel
            # Not passive: on Redis declaring creates nothing, and an empty queue (no list) is 0.
            return {queue: channel.queue_declare(queue=queue).message_count for queue in queues}
    except (OSError, redis.RedisError, OperationalError):
        return None
