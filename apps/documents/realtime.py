"""Channel groups and event payloads of documents: producers (pipeline, services) and
consumers (the document room, the SSE progress stream) share these definitions. Every
event sent is built by one of the functions below (docs/api.md, "Documents", "WebSockets")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict, cast

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def document_group(document_id: Any) -> str:
    return f"document-{document_id}"


class ProgressEvent(TypedDict):
    type: Literal["progress"]
    document_id: str
    status: str  # queued | processing | completed | failed
    stage: str
    progress: int  # 0-100
    message: str
    failure_reason: str


class StageEvent(TypedDict):
    """SSE only: one per stage already done, replayed from the row's stage_log."""

    type: Literal["stage"]
    document_id: str
    stage: str
    message: str
    at: str  # ISO 8601


EndReason = Literal["access_revoked", "account_inactive", "stalled"]


class EndedEvent(TypedDict):
    """SSE only: the stream ends before the document does, and why."""

    type: Literal["ended"]
    document_id: str
    reason: EndReason
    message: str


class DeletedEvent(TypedDict):
    type: Literal["deleted"]
    document_id: str


class AccessRevokedEvent(TypedDict):
    """On the document's group only (never sent to a client): the reader who lost access leaves."""

    type: Literal["access.revoked"]
    user_id: str


class PresenceUser(TypedDict):
    id: str
    display_name: str


class PresenceListEvent(TypedDict):
    """The room's first frame: who is here (the first arrivals, by name) and how many."""

    type: Literal["presence"]
    document_id: str
    users: list[PresenceUser]
    count: int


class PresenceEvent(TypedDict):
    type: Literal["user.joined", "user.left"]
    user: PresenceUser


class NoteAuthor(TypedDict):
    id: str
    display_name: str


class NotePayload(TypedDict):
    """The API's note object (documents.serializers.NoteSerializer)."""

    id: str
    document_id: str
    body: str
    page: int | None
    passage_id: str | None
    verse_reference: str
    author: NoteAuthor | None
    created_at: str


class NoteEvent(TypedDict):
    type: Literal["note.created"]
    note: NotePayload


# What travels on a document's group, wrapped in a GroupMessage.
DocumentEvent = ProgressEvent | DeletedEvent | AccessRevokedEvent | PresenceEvent | NoteEvent


class GroupMessage(TypedDict):
    """The channel-layer message: its type names the consumers' handler (document_event)."""

    type: Literal["document.event"]
    event: DocumentEvent


def progress_event(document: Any) -> ProgressEvent:
    return {
        "type": "progress",
        "document_id": str(document.pk),
        "status": document.status,
        "stage": document.stage,
        "progress": document.progress,
        "message": document.progress_message,
        "failure_reason": document.failure_reason,
    }


def stage(document_id: Any, entry: Mapping[str, Any]) -> StageEvent:
    """A stage_log entry ({stage, message, at}, written by the pipeline) as an event."""
    return cast(StageEvent, {"type": "stage", "document_id": str(document_id), **entry})


def ended(document_id: Any, *, reason: EndReason, message: str) -> EndedEvent:
    return {"type": "ended", "document_id": str(document_id), "reason": reason, "message": message}


def deleted(document_id: Any) -> DeletedEvent:
    return {"type": "deleted", "document_id": str(document_id)}


def access_revoked(user_id: Any) -> AccessRevokedEvent:
    return {"type": "access.revoked", "user_id": str(user_id)}


def presence_list(document_id: Any, *, users: list[PresenceUser], count: int) -> PresenceListEvent:
    return {"type": "presence", "document_id": str(document_id), "users": users, "count": count}


def user_joined(user: PresenceUser) -> PresenceEvent:
    return {"type": "user.joined", "user": user}


def user_left(user: PresenceUser) -> PresenceEvent:
    return {"type": "user.left", "user": user}


def note_created(note: NotePayload) -> NoteEvent:
    return {"type": "note.created", "note": note}


def group_message(event: DocumentEvent) -> GroupMessage:
    return {"type": "document.event", "event": event}


def is_final(event: ProgressEvent) -> bool:
    return event["status"] in ("completed", "failed")


def broadcast(document_id: Any, event: DocumentEvent) -> None:
    """Send an event to everyone following the document; consumers handle the group
    message ("document.event") and forward the event as is."""
    async_to_sync(get_channel_layer().group_send)(document_group(document_id), group_message(event))
