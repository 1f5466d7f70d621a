"""Hybrid search on a small fixture corpus: vector, text and reference rankings, fusion,
snippets. Each test searches only its own fixture source (source_ids) or unique words."""

from __future__ import annotations

from typing import Any

import pytest
from pythonbible import Book

from apps.bible.translations import bible_load
from apps.index.models import Passage
from apps.index.search import REFERENCE, TEXT, VECTOR, passages_search
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db

CORPUS = [
    "The shepherd leads his flock beside quiet waters and restores the weary sheep.",
    "Augustine answered Pelagius: grace is not a reward for merit but a gift that precedes every good will.",
    "On the golden chain: those he foreknew he also predestined (Rom 8:29), and those he called he justified.",
    "Tithes and offerings in the early church were collected for widows and orphans.",
    "The council of Nicaea confessed the Son to be of one substance with the Father.",
    "A sermon on patience: suffering produces endurance, and endurance proves character.",
    "Justification by faith alone was the article on which the church stands or falls for Luther.",
]


@pytest.fixture
def corpus(user: Any) -> list[Passage]:
    return add_passages(CORPUS, owner=user, title="Fixture commentary")


def search(user: Any, query: str, corpus: list[Passage], **options: Any) -> list[Any]:
    options.setdefault("scope", "documents")
    return passages_search(user=user, query=query, source_ids=[corpus[0].source_id], **options).hits


def texts(hits: list[Any]) -> list[str]:
    return [hit.passage.text for hit in hits]


def test_vector_search_finds_meaning_without_shared_words(user: Any, corpus: list[Passage]) -> None:
    hits = search(user, "a herder guiding animals to calm streams", corpus, methods=[VECTOR])
    assert texts(hits)[0] == CORPUS[0]
    assert hits[0].matched_by == [VECTOR]


def test_text_search_finds_rare_words(user: Any, corpus: list[Passage]) -> None:
    hits = search(user, "Pelagius", corpus, methods=[TEXT])
    assert texts(hits) == [CORPUS[1]]
    assert hits[0].matched_by == [TEXT]


def test_hybrid_puts_what_both_rankings_agree_on_first(user: Any, corpus: list[Passage]) -> None:
    hits = search(user, "Luther on justification by faith", corpus)
    assert texts(hits)[0] == CORPUS[6]
    assert set(hits[0].matched_by) == {VECTOR, TEXT}
    assert hits[0].score > hits[1].score
    # Everything visible in scope comes back up to k, ordered by fused score.
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_k_limits_the_results(user: Any, corpus: list[Passage]) -> None:
    assert len(search(user, "church", corpus, k=3)) == 3


def test_a_reference_finds_passages_that_cite_any_verse_of_it(user: Any, corpus: list[Passage]) -> None:
    hits = search(user, "everything on Rom 8:28-30", corpus)
    assert texts(hits)[0] == CORPUS[2]
    assert hits[0].matched_by[0] == REFERENCE
    assert [hit for hit in hits[1:] if REFERENCE in hit.matched_by] == []


def test_snippet_highlights_matched_words(user: Any, corpus: list[Passage]) -> None:
    (hit,) = search(user, "Pelagius", corpus, methods=[TEXT])
    assert hit.snippet.startswith("Augustine answered Pelagius")
    assert [hit.snippet[start:end] for start, end in hit.highlights] == ["Pelagius"]


def test_long_passages_get_a_fragment_around_the_match(user: Any) -> None:
    word = marker()
    filler = " ".join(["The argument continues at length with many words."] * 40)
    passages = add_passages([f"{filler} Here the {word} appears. {filler}"], owner=user)
    (hit,) = search(user, word, passages, methods=[TEXT])
    assert len(hit.snippet) < 600
    assert [hit.snippet[start:end] for start, end in hit.highlights] == [word]


def test_stale_embeddings_never_mix_into_the_vector_ranking(user: Any, corpus: list[Passage]) -> None:
    Passage.objects.filter(pk=corpus[0].pk).update(embedding_model="some-older-model")
    hits = search(user, "a herder guiding animals to calm streams", corpus, methods=[VECTOR])
    assert CORPUS[0] not in texts(hits)
    assert CORPUS[0] in texts(search(user, "shepherd", corpus, methods=[TEXT]))


@pytest.fixture
def ruth() -> None:
    for translation in ("kjv", "web"):
        bible_load(translation=translation, books=[Book.RUTH])


def test_a_verse_reference_returns_that_verse_first(user: Any, ruth: None) -> None:
    hits = passages_search(user=user, query="Ruth 1:16", scope="bible", k=5).hits
    assert hits[0].passage.reference == "Ruth 1:16"
    assert hits[0].passage.translation == "web"  # the default translation only
    assert hits[0].matched_by[0] == REFERENCE
    assert all(hit.passage.translation == "web" for hit in hits)


def test_a_range_returns_its_verses_in_order_in_the_chosen_translation(user: Any, ruth: None) -> None:
    hits = passages_search(user=user, query="Ruth 1:16-17", scope="bible", k=2, translation="kjv").hits
    assert [(hit.passage.reference, hit.passage.translation) for hit in hits] == [
        ("Ruth 1:16", "kjv"),
        ("Ruth 1:17", "kjv"),
    ]
    both = passages_search(user=user, query="Ruth 1:16", scope="bible", k=2, translation="all").hits
    assert {hit.passage.translation for hit in both} == {"kjv", "web"}


def test_a_query_without_searchable_words_returns_nothing_by_text(user: Any, corpus: list[Passage]) -> None:
    assert search(user, "the and of", corpus, methods=[TEXT]) == []
