"""Per-user channel groups and the events sent on them, and the frames of /ws/events/
(producers and consumers import these)."""

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
    """On the user's group only (never sent to a client): its type names the handler."""

    type: Literal["account.revoked"]
    reason: RevokeReason


class HelloUser(TypedDict):
    id: str
    email: str
    display_name: str
    role: str


class HelloEvent(TypedDict):
    """The first frame of /ws/events/: who the socket belongs to."""

    type: Literal["hello"]
    user: HelloUser


def account_revoked(reason: RevokeReason = "not_approved") -> AccountRevokedEvent:
    return {"type": "account.revoked", "reason": reason}


def hello(user: Any) -> HelloEvent:
    return {
        "type": "hello",
        "user": {"id": str(user.pk), "email": user.email, "display_name": user.display_name, "role": user.role},
    }


def send_account_revoked(*, user_id: Any, reason: RevokeReason = "not_approved") -> None:
    async_to_sync(get_channel_layer().group_send)(user_group(user_id), account_revoked(reason))
