"""passages_build: the one way every source (documents, knowledge entries, the Bibles) turns
its chunks into passages, and passages_embed, the one way chunks get their vectors."""

from __future__ import annotations

from typing import Any

import pytest

from apps.index import references
from apps.index.models import Passage
from apps.index.services import PassageText, passages_build, passages_embed
from apps.knowledge.services import entry_index
from tests.knowledge.factories import EntryFactory


def test_chunks_are_numbered_in_order_and_keep_their_locators():
    built = passages_build(
        [
            PassageText("First page words.", page_start=1, page_end=1),
            PassageText("Spans pages.", page_start=1, page_end=3),
        ]
    )
    assert [(p.chunk_index, p.page_start, p.page_end) for p in built] == [(0, 1, 1), (1, 1, 3)]
    assert all(p.embedding is None for p in built)


def test_the_scripture_a_chunk_cites_is_found_in_its_text():
    [built] = passages_build([PassageText("Paul's golden chain (Rom 8:29-30) and John 3:16.")])
    assert built.scripture_references == ["Romans 8:29-30", "John 3:16"]
    assert built.verse_ids == [43003016, 45008029, 45008030]


def test_a_verse_names_itself_and_keeps_its_own_chunk_index():
    [verse] = passages_build(
        [
            PassageText(
                "For God so loved the world",
                reference="John 3:16",
                translation="kjv",
                chunk_index=43003016,
                verse_ids=(43003016,),
            )
        ]
    )
    assert (verse.chunk_index, verse.reference, verse.translation) == (43003016, "John 3:16", "kjv")
    assert (verse.scripture_references, verse.verse_ids) == (["John 3:16"], [43003016])


def test_vectors_go_with_their_chunks_and_must_match_in_number():
    chunks = [PassageText("grace"), PassageText("a much longer text about the grace of God to sinners")]
    vectors = passages_embed([chunk.text for chunk in chunks])
    built = passages_build(chunks, vectors=vectors)
    assert [p.embedding for p in built] == vectors
    with pytest.raises(ValueError, match="2 chunks but 1 vectors"):
        passages_build(chunks, vectors=vectors[:1])


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (sum(x * x for x in a) * sum(y * y for y in b)) ** 0.5


def test_passages_embed_keeps_the_order_of_its_texts_and_reports_each_batch(settings):
    settings.EMBEDDING_BATCH_SIZE = 2
    texts = ["short", "a somewhat longer text", "the longest text of all of them, by far", "mid length"]
    reported: list[int] = []
    vectors = passages_embed(texts, on_batch=reported.append)
    assert reported == [2, 4]
    alone = [passages_embed([text])[0] for text in texts]  # longest-first batching does not reorder
    assert all(cosine(a, b) > 0.9999 for a, b in zip(vectors, alone, strict=True))


def test_without_a_registered_parser_the_index_finds_no_scripture():
    from apps.bible.scripture import find_references

    references.reference_finder_register(lambda text: [])
    try:
        [built] = passages_build([PassageText("Rom 8:28")])
    finally:
        references.reference_finder_register(find_references)
    assert (built.scripture_references, built.verse_ids) == ([], [])


@pytest.mark.django_db
def test_a_knowledge_entry_and_a_document_chunk_build_the_same_passage(user: Any):
    """Entries are indexed through passages_build too: same references, same vector."""
    text = "Those he foreknew he also predestined (Rom 8:29)."
    entry = EntryFactory(title="Golden chain", body=text, author=user)
    entry_index(entry_id=entry.pk)
    stored = Passage.objects.get(source_kind=Passage.SourceKind.KNOWLEDGE, source_id=entry.pk)
    [built] = passages_build([PassageText(stored.text)], vectors=passages_embed([stored.text]))
    assert stored.scripture_references == built.scripture_references == ["Romans 8:29"]
    assert stored.verse_ids == built.verse_ids
    assert built.embedding is not None
    assert cosine(list(stored.embedding), list(built.embedding)) > 0.9999


def test_a_document_chunk_keeps_its_printed_page_and_section():
    built = passages_build(
        [
            PassageText("Front matter.", page_start=1, page_end=1, page_label="i", section="Preface"),
            PassageText("A verse.", reference="Ruth 1:16", translation="web", verse_ids=(8001016,)),
            PassageText("Long.", page_start=2, page_end=2, page_label="x" * 50, section="s" * 400),
        ]
    )
    assert [(p.page_label, p.section) for p in built[:2]] == [("i", "Preface"), ("", "")]
    assert len(built[2].page_label) == Passage.PAGE_LABEL_CHARS and len(built[2].section) == Passage.SECTION_CHARS
