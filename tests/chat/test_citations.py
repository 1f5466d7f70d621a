"""Citation checks: numbers must name a source, quotes must occur in it."""

from __future__ import annotations

import uuid

from apps.chat.citations import Source, validate_citations
from apps.index.models import Passage


def source(n: int, text: str, **fields: object) -> Source:
    fields = {"source_kind": "document", "title": "Institutes", "page_start": 3, **fields}
    return Source(n, Passage(id=uuid.uuid4(), source_id=uuid.uuid4(), chunk_index=0, text=text, **fields))


SOURCES = [
    source(1, "Grace precedes every good will, as Augustine taught against Pelagius."),
    source(
        2,
        'If a man says, "I love God," and hates his brother, he is a liar.',
        source_kind="bible",
        reference="1 John 4:20",
        translation="web",
        page_start=None,
    ),
]


def test_a_correct_quote_is_verified_with_its_locator() -> None:
    (item,) = validate_citations("Augustine held that “grace precedes every good will” [1].", SOURCES)
    assert item["verified"] is True and item["quote"] == "grace precedes every good will"
    assert item["source_kind"] == "document" and item["page_start"] == 3 and item["document_id"]


def test_a_quote_not_in_the_source_is_flagged() -> None:
    (item,) = validate_citations("He wrote “grace follows every good work” [1].", SOURCES)
    assert item["verified"] is False and item["quote"] == "grace follows every good work"


def test_a_number_without_a_source_is_flagged() -> None:
    items = validate_citations("As shown [1] and [9].", SOURCES)
    assert [(i["n"], i["verified"]) for i in items] == [(1, True), (9, False)]
    assert items[1]["source_kind"] is None


def test_each_citation_checks_the_quote_just_before_it() -> None:
    text = (
        'John: “If a man says, "I love God," and hates his brother, he is a liar” [2]; '
        'and "grace precedes every good will" [1].'
    )
    items = validate_citations(text, SOURCES)
    assert {i["n"]: i["verified"] for i in items} == {2: True, 1: True}
    assert items[0]["reference"] == "1 John 4:20"


def test_lists_and_grouped_numbers() -> None:
    text = "- one “grace precedes every good will” [1]\n- both [1, 2]"
    items = validate_citations(text, SOURCES)
    assert [i["n"] for i in items] == [1, 2] and all(i["verified"] for i in items)
