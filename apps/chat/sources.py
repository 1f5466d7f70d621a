"""What an answer's sources panel shows: every numbered source sent to Claude, with its
locator, a snippet and its link, and whether the answer cited it. Stored on the assistant
message (`Message.sources`) and sent in the `done` event."""

from __future__ import annotations

from typing import Any, cast

from apps.chat.citations import Source, _source_fields
from apps.chat.realtime import CitationItem, SourceItem

SNIPPET_CHARS = 280


def snippet_of(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= SNIPPET_CHARS:
        return words
    return words[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


def source_items(sources: list[Source], citations: list[CitationItem]) -> list[SourceItem]:
    """The panel's rows, in source order; `cited` for every number the answer cites."""
    cited = {item["n"] for item in citations}
    items: list[SourceItem] = []
    for source in sorted(sources, key=lambda source: source.n):
        fields: dict[str, Any] = dict(_source_fields(source))
        fields.pop("quote", None)
        fields.pop("verified", None)
        fields.update(locator=source.locator, snippet=snippet_of(source.passage.text), cited=source.n in cited)
        items.append(cast("SourceItem", fields))  # _source_fields' keys plus the panel's
    return items
