"""Ranking: BM25 weighs rare words over repeated ones, a verse found in two translations
counts once in the chosen one, a neighbouring verse is recalled through its window, and in
"all" scope neither the Bible nor one book takes every place."""

from __future__ import annotations

from typing import Any

import pytest

from apps.bible.translations import translation_source_id
from apps.index import fusion
from apps.index.embeddings import embed_texts, model_name
from apps.index.models import Passage
from apps.index.search import TEXT, VECTOR, passages_search
from apps.index.text_ranking import query_lexemes, weighted_words, word_statistics_refresh
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db

RUTH_1 = 8001000  # BBCCCVVV of Ruth 1:0; add the verse number


def add_verses(translation: str, verses: dict[int, str]) -> list[Passage]:
    """Verses of one translation, embedded, as the Bible loader stores them (a verse's
    chunk index is its verse id)."""
    texts = list(verses.values())
    rows = [
        Passage(
            source_kind=Passage.SourceKind.BIBLE,
            source_id=translation_source_id(translation),
            chunk_index=verse_id,
            title=translation.upper(),
            text=text,
            embedding=vector,
            embedding_model=model_name(),
            reference=f"Ruth 1:{verse_id - RUTH_1}",
            translation=translation,
            verse_ids=[verse_id],
            visibility=Passage.Visibility.PUBLIC,
        )
        for (verse_id, text), vector in zip(verses.items(), embed_texts(texts), strict=True)
    ]
    return Passage.objects.bulk_create(rows)


def test_a_rare_word_outweighs_a_common_word_said_many_times(user: Any) -> None:
    rare, common = marker(), marker()
    texts = [f"The {common} of the crowd in the market square number {n}." for n in range(40)]
    texts += [f"{common} {common} {common} {common}, round and round the wind {common}.", f"Of {rare} and mercy."]
    passages = add_passages(texts, owner=user)
    word_statistics_refresh()  # word frequencies come from the statistics ANALYZE keeps
    words = {word.lexeme: word.idf for word in weighted_words(f"{rare} {common}")}
    (rare_lexeme,), (common_lexeme,) = query_lexemes(rare), query_lexemes(common)  # stemmed as the index stores them
    assert words[rare_lexeme] > words[common_lexeme]

    hits = passages_search(user=user, query=f"{rare} that {common}", scope="documents", methods=[TEXT], k=3)
    assert hits.hits[0].passage.pk == passages[-1].pk


def test_a_verse_found_through_either_translation_is_shown_once_in_the_chosen_one(user: Any) -> None:
    word = marker()
    add_verses("kjv", {RUTH_1 + 16: f"Intreat me not to leave thee, {word}, for whither thou goest, I will go."})
    web = add_verses("web", {RUTH_1 + 16: "Don't urge me to leave you, for where you go, I will go."})
    # The query has the KJV's words: found through the KJV, shown in the WEB.
    hits = passages_search(user=user, query=f"intreat me not {word} whither thou goest", scope="bible", k=5).hits
    ruth_hits = [hit for hit in hits if hit.passage.reference == "Ruth 1:16"]
    assert [hit.passage.pk for hit in ruth_hits] == [web[0].pk]
    assert set(ruth_hits[0].matched_by) == {VECTOR, TEXT}

    both = passages_search(
        user=user, query=f"intreat me not {word} whither thou goest", scope="bible", k=5, translation="all"
    ).hits
    assert {hit.passage.translation for hit in both if hit.passage.reference == "Ruth 1:16"} == {"kjv", "web"}


def test_the_verse_next_to_a_found_verse_is_recalled_through_their_window(user: Any, settings: Any) -> None:
    settings.SEARCH_CANDIDATES = 1  # each ranking brings one passage; the window brings its neighbour
    verses = {
        RUTH_1 + 20: "She said to them, Don't call me Naomi. Call me Mara.",
        RUTH_1
        + 21: "for the Almighty has dealt very bitterly with me; I went out full and the LORD brought me home empty",
    }
    add_verses("web", verses)
    hits = passages_search(
        user=user, query="call me bitter, for God sent me home empty", scope="bible", k=2, methods=[VECTOR]
    ).hits
    assert {hit.passage.reference for hit in hits} == {"Ruth 1:20", "Ruth 1:21"}


def test_windows_credit_both_verses_of_a_pair() -> None:
    source = translation_source_id("web")
    rows = [
        (1, "bible", source, RUTH_1 + 1, [RUTH_1 + 1], "web", 0.30, 0.80, 0.0),
        (2, "bible", source, RUTH_1 + 2, [RUTH_1 + 2], "web", 0.20, None, 0.0),
        (3, "bible", source, RUTH_1 + 9, [RUTH_1 + 9], "web", 0.50, None, 0.0),
    ]
    found = fusion.candidates_from(rows)
    window = fusion.WINDOW_DISCOUNT * 0.80
    assert [round(found[key].similarity, 6) for key in (1, 2, 3)] == [round(window, 6), round(window, 6), 0.50]  # type: ignore[index]


def test_in_all_scope_a_readers_book_is_not_drowned_by_verses(user: Any) -> None:
    add_verses("web", {RUTH_1 + n: f"Boaz showed kindness to Ruth in the field, verse {n}." for n in range(1, 13)})
    book = add_passages(["Henry's commentary, on a generous master and the stranger he favours."], owner=user)
    hits = passages_search(user=user, query="the kindness of Boaz to Ruth in the field", scope="all", k=10).hits
    kinds = [hit.passage.source_kind for hit in hits]
    # The verses match better, yet at most 7 of them come before the reader's own book.
    assert kinds[:7] == [Passage.SourceKind.BIBLE] * 7
    assert [hit.passage.pk for hit in hits].index(book[0].pk) == 7


def test_one_book_cannot_fill_every_place_while_another_has_matches(user: Any) -> None:
    word = marker()
    loud = add_passages([f"{word} justification by faith, chapter {n}." for n in range(10)], owner=user)
    quiet = add_passages([f"A note on {word} and justification."], owner=user)
    hits = passages_search(user=user, query=f"{word} justification by faith", scope="documents", k=10).hits
    sources = [hit.passage.source_id for hit in hits]
    assert sources[:7] == [loud[0].source_id] * 7
    assert sources[7] == quiet[0].source_id
    assert len(hits) == 10  # then the loud book again: nothing else is left to take the places


# --- query-type routing (fusion.text_weights) ------------------------------------------------


def test_a_name_only_one_verse_has_leads_over_a_closer_meaning(user: Any) -> None:
    """The text ranking is sure (one verse holds the name, no other comes near), so the
    words lead: a paraphrase that names Zacchaeus wants the verse that names him."""
    name = "Zacchaeus"  # a fixed name: a random marker would move the embeddings from run to run
    add_verses(
        "web",
        {
            RUTH_1 + 1: "The little publican ran ahead and climbed a sycamore to see Jesus passing by.",
            RUTH_1 + 5: f"{name} kept the accounts of the harbour.",
        },
    )
    query = f"{name}, a short man who gathered taxes, went up a fig to watch the rabbi walk past"
    by_meaning = passages_search(user=user, query=query, scope="bible", k=2, methods=[VECTOR]).hits
    assert by_meaning[0].passage.reference == "Ruth 1:1"  # meaning alone prefers the paraphrase
    fused = passages_search(user=user, query=query, scope="bible", k=2).hits
    assert fused[0].passage.reference == "Ruth 1:5"


def test_when_the_words_are_shared_meaning_leads(user: Any) -> None:
    """Two verses match the query's words alike: the text ranking is not sure, and the
    verse whose meaning is closer comes first at the paraphrase weight."""
    add_verses(
        "web",
        {
            RUTH_1 + 1: "The harvest of barley began, and the reapers went out to the field.",
            RUTH_1 + 2: "Famine came on the land, and the harvest failed in the field.",
        },
    )
    query = "there was no food because the harvest in the field failed"
    words = weighted_words(query)
    hits = passages_search(user=user, query=query, scope="bible", k=2).hits
    assert hits[0].passage.reference == "Ruth 1:2"
    candidates = [_candidate(hit.passage, text=0.5) for hit in hits]
    assert fusion.text_weights(query, words, candidates) is fusion.TEXT_WEIGHT


def _candidate(passage: Passage, *, text: float, kind: str | None = None) -> fusion.Candidate:
    return fusion.Candidate(
        passage.pk,
        kind or passage.source_kind,
        passage.source_id,
        passage.chunk_index,
        passage.verse_ids,
        passage.translation,
        text=text,
    )


def test_keywords_route_to_the_words_even_with_one_word_typed_in_two_forms(user: Any) -> None:
    for query in ("afterward dream dreams", "thanks wonderfully wonderful", "widows orphans"):
        assert fusion.text_weights(query, weighted_words(query), []) is fusion.KEYWORD_TEXT_WEIGHT
    query = "love your enemies"  # "your" is a stop word: a phrase, not keywords
    assert fusion.text_weights(query, weighted_words(query), []) is fusion.TEXT_WEIGHT


def test_a_sure_book_passage_does_not_lift_the_verses(user: Any) -> None:
    """In "all" scope, a book passage the words alone single out is already weighted by
    its kind; lifting every verse's words then would push the book down."""
    verse = add_verses("web", {RUTH_1 + 1: "Naomi returned to Bethlehem."})[0]
    (book,) = add_passages(["Henry on Naomi's bitterness and return."], owner=user)
    query = "why was Naomi bitter when she came home"
    words = weighted_words(query)
    book_first = [_candidate(book, text=0.9), _candidate(verse, text=0.3)]
    assert fusion.text_weights(query, words, book_first) is fusion.TEXT_WEIGHT
    verse_first = [_candidate(verse, text=0.9), _candidate(book, text=0.3)]
    assert fusion.text_weights(query, words, verse_first)[Passage.SourceKind.BIBLE] == fusion.SURE_TEXT_WEIGHT
