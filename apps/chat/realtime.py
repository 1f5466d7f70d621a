"""The events of an answer, defined once: WebSocket frames and SSE `event:` names alike
(docs/api.md, "Chat"). Every event has a `type`."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from apps.core.realtime import ErrorEvent as ErrorEvent  # the error frame every socket shares
from apps.core.realtime import error as error


class UsagePayload(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float


class CitationItem(TypedDict):
    n: int
    source_kind: str | None  # None when the number cites no source
    title: str
    document_id: NotRequired[str]
    entry_id: NotRequired[str]
    reference: NotRequired[str]
    page_start: int | None
    page_label: NotRequired[str]  # the printed page ("xii"; the page number as text), "" but for documents
    section: NotRequired[str]  # the heading the passage sits under
    quote: str
    verified: bool
    url: str | None


class SourceItem(TypedDict):
    """One numbered source sent to Claude with an answer, cited or not (the sources panel)."""

    n: int
    source_kind: str
    title: str
    document_id: NotRequired[str]
    entry_id: NotRequired[str]
    reference: NotRequired[str]
    page_start: int | None
    page_label: NotRequired[str]
    section: NotRequired[str]
    locator: str
    snippet: str
    url: str | None
    cited: bool


class DeltaEvent(TypedDict):
    type: Literal["delta"]
    text: str


class CitationsEvent(TypedDict):
    type: Literal["citations"]
    items: list[CitationItem]


class DoneEvent(TypedDict):
    type: Literal["done"]
    message_id: str
    usage: UsagePayload
    degraded: bool
    degraded_reason: str  # "" | no_api_key | breaker_open | budget_exceeded | provider_error
    search_query: str  # the standalone query retrieval used (the question, or its rewrite)
    sources: list[SourceItem]  # every numbered source sent to Claude, `cited` marking the cited ones


ChatEvent = DeltaEvent | CitationsEvent | DoneEvent | ErrorEvent


def delta(text: str) -> DeltaEvent:
    return {"type": "delta", "text": text}


def citations(items: list[CitationItem]) -> CitationsEvent:
    return {"type": "citations", "items": items}


def done(
    *,
    message_id: str,
    usage: UsagePayload,
    degraded: bool,
    degraded_reason: str = "",
    search_query: str = "",
    sources: list[SourceItem] | None = None,
) -> DoneEvent:
    return {
        "type": "done",
        "message_id": message_id,
        "usage": usage,
        "degraded": degraded,
        "degraded_reason": degraded_reason,
        "search_query": search_query,
        "sources": sources or [],
    }


# --- digests (whole-document questions: apps/chat/digest_*.py) ---------------------------
# Sent on the conversation's group to every socket open on it (chat.digest_socket), so the
# page learns of a digest's progress whichever of its tabs started it.


def conversation_group(conversation_id: object) -> str:
    return f"conversation-{conversation_id}"


class DigestProgressEvent(TypedDict):
    type: Literal["digest.progress"]
    id: str
    done: int
    total: int


class DigestDoneEvent(TypedDict):
    type: Literal["digest.done"]
    id: str
    message_id: str


class DigestFailedEvent(TypedDict):
    type: Literal["digest.failed"]
    id: str
    code: str
    message: str


DigestEvent = DigestProgressEvent | DigestDoneEvent | DigestFailedEvent


class DigestGroupMessage(TypedDict):
    """The channel-layer message: its type names the consumer's handler (digest_event)."""

    type: Literal["digest.event"]
    event: DigestEvent


def digest_progress(digest_id: object, *, done: int, total: int) -> DigestProgressEvent:
    return {"type": "digest.progress", "id": str(digest_id), "done": done, "total": total}


def digest_done(digest_id: object, *, message_id: object) -> DigestDoneEvent:
    return {"type": "digest.done", "id": str(digest_id), "message_id": str(message_id)}


def digest_failed(digest_id: object, *, code: str, message: str) -> DigestFailedEvent:
    return {"type": "digest.failed", "id": str(digest_id), "code": code, "message": message}


def digest_group_message(event: DigestEvent) -> DigestGroupMessage:
    return {"type": "digest.event", "event": event}


def digest_broadcast(conversation_id: object, event: DigestEvent) -> None:
    """To every socket open on the conversation (call it in transaction.on_commit)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    async_to_sync(get_channel_layer().group_send)(conversation_group(conversation_id), digest_group_message(event))
