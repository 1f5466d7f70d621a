"""Sources numbered for the prompt, and the check of the citations in an answer: each [n]
must name a source, and text quoted next to it must occur in that source."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from apps.chat.realtime import CitationItem
from apps.index.links import passage_url
from apps.index.models import Passage

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# A quotation: “curly” (may contain straight quotes) or "straight".
_QUOTE = re.compile(r"“([^”]{8,600})”|\"([^\"]{8,600})\"")
# Sentences and lines: a quote and its citation stay in one segment.
_SEGMENT_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(“\"])|\n+")


@dataclass(frozen=True)
class Source:
    """One numbered source of a prompt."""

    n: int
    passage: Passage

    @property
    def locator(self) -> str:
        p = self.passage
        if p.source_kind == Passage.SourceKind.BIBLE:
            return f"{p.reference} ({p.translation.upper()})"
        if p.page_start:
            return f"{p.title}, {p.printed_pages}"
        return f"{p.title} (knowledge entry)"

    def prompt_block(self) -> str:
        return f"[{self.n}] {self.locator}\n{passage_text_for_prompt(self.passage.text)}"


def passage_text_for_prompt(text: str) -> str:
    """At most CHAT_PASSAGE_CHARS characters: chunks are cut by words, and a "word" of an
    odd PDF (no spaces, base64, a table) can be as long as the document."""
    limit = settings.CHAT_PASSAGE_CHARS
    if len(text) <= limit:
        return text
    cut = text[:limit]
    at_space = cut.rsplit(" ", 1)[0]
    return (at_space if len(at_space) >= limit * 0.8 else cut) + " …"


def number_sources(passages: list[Passage], *, start: int = 1) -> list[Source]:
    return [Source(n, passage) for n, passage in enumerate(passages, start=start)]


def _normalized(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _source_fields(source: Source) -> CitationItem:
    p = source.passage
    item: CitationItem = {
        "n": source.n,
        "source_kind": p.source_kind,
        "title": p.title,
        "page_start": p.page_start,
        "page_label": p.page_label,
        "section": p.section,
        "quote": "",
        "verified": True,
        "url": passage_url(p),
    }
    if p.source_kind == Passage.SourceKind.BIBLE:
        item["reference"] = p.reference
    elif p.source_kind == Passage.SourceKind.DOCUMENT:
        item["document_id"] = str(p.source_id)
    else:
        item["entry_id"] = str(p.source_id)
    return item


def validate_citations(answer: str, sources: list[Source]) -> list[CitationItem]:
    """One item per cited number, in order of first use. A number that names no source, or
    the quotation just before it (since the previous citation, in the same sentence) not
    found in that source, makes the item `verified: false`."""
    by_number = {source.n: source for source in sources}
    items: dict[int, CitationItem] = {}
    for segment in _SEGMENT_END.split(answer):
        previous_end = 0
        for match in _CITATION.finditer(segment):
            quotes = [curly or straight for curly, straight in _QUOTE.findall(segment[previous_end : match.start()])]
            previous_end = match.end()
            for n in (int(part) for part in match.group(1).split(",")):
                source = by_number.get(n)
                if source is None:
                    items.setdefault(n, _unknown(n))
                    continue
                item = items.setdefault(n, _source_fields(source))
                if quotes:
                    found = _normalized(quotes[-1]) in _normalized(source.passage.text)
                    if not item["quote"] or not found:
                        item["quote"] = quotes[-1]
                    item["verified"] = item["verified"] and found
    return list(items.values())


def _unknown(n: int) -> CitationItem:
    return {
        "n": n,
        "source_kind": None,
        "title": "",
        "page_start": None,
        "quote": "",
        "verified": False,
        "url": None,
    }
