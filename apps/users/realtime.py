"""Per-user channel groups and the events sent on them (producers and consumers import these)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def user_group(user_id: Any) -> str:
    return f"user-{user_id}"


# Why an account's sockets and streams close: "not_approved" (suspended, denied, deleted:
# WebSockets close with 4403) or "rights_changed" (role or password changed: they close
# with 4000 and the client reconnects, authenticating again and getting the new rights).
RevokeReason = Literal["not_approved", "rights_changed"]


class AccountRevokedEvent(TypedDict):
    type: str  # "account.revoked"
    reason: RevokeReason


def send_account_revoked(*, user_id: Any, reason: RevokeReason = "not_approved") -> None:
    event: AccountRevokedEvent = {"type": "account.revoked", "reason": reason}
    async_to_sync(get_channel_layer().group_send)(user_group(user_id), event)
