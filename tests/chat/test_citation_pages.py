"""A document source's locator and citation item give the printed page and the section."""

from __future__ import annotations

import uuid

import pytest

from apps.chat.citations import Source, validate_citations
from apps.index.models import Passage


def source(**fields: object) -> Source:
    fields = {"source_kind": "document", "title": "Henry on Ruth", "page_start": 12, "page_end": 12, **fields}
    return Source(1, Passage(id=uuid.uuid4(), source_id=uuid.uuid4(), chunk_index=0, text="Boaz was kind.", **fields))


@pytest.mark.parametrize(
    ("fields", "locator"),
    [
        ({"page_label": "xii"}, "Henry on Ruth, p. xii"),
        ({"page_label": "46", "page_start": 50, "page_end": 51}, "Henry on Ruth, pp. 46–47"),
        ({"page_label": "ix", "page_end": 13}, "Henry on Ruth, pp. ix–x"),
        ({"page_label": "XIV", "page_end": 14}, "Henry on Ruth, pp. XIV–XVI"),
        ({"page_label": "A-3", "page_end": 13}, "Henry on Ruth, pp. A-3ff."),
        ({"page_label": ""}, "Henry on Ruth, p. 12"),  # stored before labels: the page number
        ({"page_label": "", "page_end": 14}, "Henry on Ruth, pp. 12–14"),
    ],
)
def test_the_locator_gives_the_printed_pages(fields: dict, locator: str) -> None:
    assert source(**fields).locator == locator
    assert source(**fields).prompt_block().startswith(f"[1] {locator}\n")


def test_the_citation_item_carries_page_label_and_section() -> None:
    cited = source(page_label="xii", section="Chapter 2 › Verses 8-9")
    (item,) = validate_citations("Boaz shows kindness [1].", [cited])
    assert (item["page_start"], item["page_label"], item["section"]) == (12, "xii", "Chapter 2 › Verses 8-9")
    verse = Source(1, Passage(id=uuid.uuid4(), source_id=uuid.uuid4(), chunk_index=0, text="x", source_kind="bible"))
    (item,) = validate_citations("So [1].", [verse])
    assert (item["page_label"], item["section"]) == ("", "")
