"""Per-user channel groups and the events sent on them (producers and consumers import these)."""

from __future__ import annotations

from typing import Any, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def user_group(user_id: Any) -> str:
    return f"user-{user_id}"


class AccountRevokedEvent(TypedDict):
    type: str  # "account.revoked": every socket of the user closes with 4403


def send_account_revoked(*, user_id: Any) -> None:
    event: AccountRevokedEvent = {"type": "account.revoked"}
    async_to_sync(get_channel_layer().group_send)(user_group(user_id), event)
