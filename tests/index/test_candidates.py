"""The candidate statement (index.candidates): the nearest passages by vector, their
neighbouring verses and every candidate's scores in one query, under the recall filter;
the text ranking's choosing words; the query embedded on one thread."""

from __future__ import annotations

from typing import Any

import pytest

from apps.index import search
from apps.index.candidates import scored_candidates
from apps.index.embeddings import embed_texts
from apps.index.selectors import visible_passages
from apps.index.text_ranking import CHOOSING_SHARE, WeightedWord, choosing_words, text_ranking, weighted_words
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db

THEMES = [
    "Boaz tells the reapers to leave grain for the widow gleaning in his field.",
    "A shepherd counts his sheep at dusk and goes out after the one that strayed.",
    "The prophet rebukes the king for taking a poor man's only lamb.",
    "Grain stored in the good years feeds Egypt through seven years of famine.",
]


def recall_of(user: Any, source_ids: list[Any]) -> Any:
    return search._scoped(visible_passages(user), scope="all", translation="all", source_ids=source_ids)


def test_the_nearest_come_back_nearest_first_as_the_plain_knn_finds_them(user: Any) -> None:
    passages = add_passages(THEMES, owner=user)
    recall = recall_of(user, [passages[0].source_id])
    vector = embed_texts(["a kind landowner lets a widow gather leftover barley"])[0]
    candidates, nearest = scored_candidates(recall, words=[], query_vector=vector, nearest=3, found_elsewhere=[])
    plain = search.nearest_by_vector(recall, vector, limit=3)
    assert [passage_id for passage_id, _ in nearest] == [passage_id for passage_id, _ in plain]
    assert [round(distance, 5) for _, distance in nearest] == [round(distance, 5) for _, distance in plain]
    assert nearest[0][0] == passages[0].pk
    assert round(candidates[passages[0].pk].similarity, 5) == round(1 - nearest[0][1], 5)


def test_passages_found_elsewhere_are_scored_by_text_and_meaning(user: Any) -> None:
    word = marker()
    passages = add_passages([*THEMES, f"The {word} of the harvest."], owner=user)
    recall = recall_of(user, [passages[0].source_id])
    words = weighted_words(f"{word} harvest")
    found_by_text = text_ranking(recall, words, limit=5)
    vector = embed_texts([f"{word} harvest"])[0]
    candidates, _ = scored_candidates(
        recall, words=words, query_vector=vector, nearest=1, found_elsewhere=[pk for pk, _ in found_by_text]
    )
    assert candidates[passages[-1].pk].text > 0
    assert candidates[passages[-1].pk].similarity > 0


def test_nothing_outside_the_recall_filter_is_scored(user: Any, make_user: Any) -> None:
    mine = add_passages(THEMES, owner=user)
    theirs = add_passages(THEMES, owner=make_user())
    recall = recall_of(user, [mine[0].source_id, theirs[0].source_id])
    vector = embed_texts([THEMES[1]])[0]
    candidates, nearest = scored_candidates(
        recall, words=[], query_vector=vector, nearest=10, found_elsewhere=[passage.pk for passage in theirs]
    )
    assert set(candidates) == {passage.pk for passage in mine}
    assert {passage_id for passage_id, _ in nearest} == {passage.pk for passage in mine}


def test_without_a_vector_only_the_passages_found_elsewhere_are_scored(user: Any) -> None:
    passages = add_passages(THEMES, owner=user)
    recall = recall_of(user, [passages[0].source_id])
    candidates, nearest = scored_candidates(
        recall, words=[], query_vector=None, nearest=5, found_elsewhere=[passages[2].pk]
    )
    assert list(candidates) == [passages[2].pk] and nearest == []


def test_the_rarest_words_choose_within_their_share() -> None:
    words = [WeightedWord("common", 1.0, 0.3), WeightedWord("rare", 6.0, 0.001), WeightedWord("mid", 3.0, 0.015)]
    assert [word.lexeme for word in choosing_words(words)] == ["rare", "mid"]
    over = [WeightedWord("often", 1.0, CHOOSING_SHARE * 3), WeightedWord("also", 1.0, CHOOSING_SHARE * 4)]
    assert [word.lexeme for word in choosing_words(over)] == ["often"]  # always the rarest one


def test_the_query_is_embedded_on_one_thread() -> None:
    import torch

    assert search._embedder.submit(torch.get_num_threads).result() == 1
