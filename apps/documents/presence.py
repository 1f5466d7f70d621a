"""Who is in a document room: a Redis hash per document, channel name -> user."""

from __future__ import annotations

import json
from typing import Any

from django.core.cache import caches

from apps.documents.realtime import PresenceUser

PRESENCE_TTL_SECONDS = 24 * 3600  # a crashed process's entries do not linger forever


def _key(document_id: Any) -> str:
    return f"theo:presence:{document_id}"


def _client() -> Any:
    return caches["default"]._cache.get_client(write=True)  # type: ignore[attr-defined]  # RedisCache._cache: not in stubs


def _users(raw: dict[bytes, bytes]) -> list[PresenceUser]:
    unique: dict[str, PresenceUser] = {}
    for value in raw.values():
        user = json.loads(value)
        unique[user["id"]] = user
    return sorted(unique.values(), key=lambda u: u["display_name"].lower())


def join(document_id: Any, channel_name: str, user: PresenceUser) -> tuple[list[PresenceUser], bool]:
    """Add a connection; returns (everyone here now, whether this user just arrived)."""
    client = _client()
    already_here = any(u["id"] == user["id"] for u in _users(client.hgetall(_key(document_id))))
    client.hset(_key(document_id), channel_name, json.dumps(user))
    client.expire(_key(document_id), PRESENCE_TTL_SECONDS)
    return _users(client.hgetall(_key(document_id))), not already_here


def leave(document_id: Any, channel_name: str, user_id: str) -> bool:
    """Remove a connection; returns whether the user has no other connection left here."""
    client = _client()
    client.hdel(_key(document_id), channel_name)
    return all(u["id"] != user_id for u in _users(client.hgetall(_key(document_id))))
