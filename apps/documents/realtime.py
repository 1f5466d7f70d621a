"""Channel groups and event payloads of documents: producers (pipeline, services) and
consumers (the document room, the SSE progress stream) share these definitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def document_group(document_id: Any) -> str:
    return f"document-{document_id}"


class ProgressEvent(TypedDict):
    type: str  # "progress"
    document_id: str
    status: str  # queued | processing | completed | failed
    stage: str
    progress: int  # 0-100
    message: str
    failure_reason: str


class PresenceUser(TypedDict):
    id: str
    display_name: str


class PresenceEvent(TypedDict):
    type: str  # "user.joined" | "user.left"
    user: PresenceUser


class NoteEvent(TypedDict):
    type: str  # "note.created"
    note: dict[str, Any]


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


def is_final(event: ProgressEvent) -> bool:
    return event["status"] in ("completed", "failed")


def broadcast(document_id: Any, event: Mapping[str, Any]) -> None:
    """Send an event to everyone following the document. The group message type
    "document.event" is what consumers handle; the payload is forwarded as is."""
    async_to_sync(get_channel_layer().group_send)(
        document_group(document_id), {"type": "document.event", "event": event}
    )
