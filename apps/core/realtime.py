"""What every Theo WebSocket shares: its close codes and the frames any socket may send
(`pong`, `error`). Each app's own events live in its `realtime.py` (docs/api.md, "WebSockets")."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# daphne (autobahn) lets an application close only with 1000 or 3000-4999: a 1008 or 1013
# becomes a crash and 1011. So the codes mirror the standard ones (and HTTP's) in the 4000s.
CLOSE_RECONNECT = 4000  # the account's role or password changed: reconnect to get the new rights
CLOSE_TOO_MANY_SOCKETS = 4008  # too many sockets of this route for one user (cf. 1008)
CLOSE_TRY_AGAIN_LATER = 4013  # the route's cap across all processes is reached (cf. 1013)
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_APPROVED = 4403
CLOSE_NOT_FOUND = 4404  # the room or conversation is not there for this user (the API's 404)


class PongEvent(TypedDict):
    type: Literal["pong"]


class ErrorEvent(TypedDict):
    type: Literal["error"]
    code: str
    message: str
    retry_after: NotRequired[int]


def pong() -> PongEvent:
    """The answer to {"type": "ping"} on every socket."""
    return {"type": "pong"}


def error(code: str, message: str, *, retry_after: int | None = None) -> ErrorEvent:
    event: ErrorEvent = {"type": "error", "code": code, "message": message}
    if retry_after is not None:
        event["retry_after"] = retry_after
    return event
