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
