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


ChatEvent = DeltaEvent | CitationsEvent | DoneEvent | ErrorEvent


def delta(text: str) -> DeltaEvent:
    return {"type": "delta", "text": text}


def citations(items: list[CitationItem]) -> CitationsEvent:
    return {"type": "citations", "items": items}


def done(*, message_id: str, usage: UsagePayload, degraded: bool, degraded_reason: str = "") -> DoneEvent:
    return {
        "type": "done",
        "message_id": message_id,
        "usage": usage,
        "degraded": degraded,
        "degraded_reason": degraded_reason,
    }
