"""The second embedding model (THEO_EMBEDDING_ENSEMBLE): the build fills its side table
only when the ensemble is on, `second_ranking` ranks by it within the passages the caller
may see, and `manage.py reembed` / the background embedding fill what is missing."""

from __future__ import annotations

import uuid
from io import StringIO
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command

from apps.index.embeddings import check_second_model, embed_second, second_model_name
from apps.index.ensemble import second_ranking
from apps.index.models import Passage, PassageVector
from apps.index.reembed import passages_embed_stale, second_stale_passages
from apps.index.selectors import PassageAccess, visible_passages
from apps.index.services import PassageText, passages_build, passages_embed, passages_replace_for_source
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db

TEXTS = [
    "The shepherd leaves the ninety-nine sheep to look for the one that is lost.",
    "A sower went out to sow, and some seed fell on rocky ground.",
    "Love is patient and kind; it does not envy or boast.",
]


@pytest.fixture
def ensemble_on(settings: Any) -> None:
    settings.EMBEDDING_ENSEMBLE = True


def build(texts: list[str], *, owner: Any, visibility: str = Passage.Visibility.PRIVATE) -> list[Passage]:
    """One document's passages, the way the document pipeline writes them."""
    source_id = uuid.uuid4()
    passages_replace_for_source(
        source_kind=Passage.SourceKind.DOCUMENT,
        source_id=source_id,
        title="Fixture",
        passages=passages_build([PassageText(text) for text in texts], vectors=passages_embed(texts)),
        access=PassageAccess(visibility=visibility, owner_id=owner.pk),
    )
    return list(Passage.objects.filter(source_id=source_id).order_by("chunk_index"))


def second_vectors_of(passages: list[Passage]) -> dict[uuid.UUID, np.ndarray]:
    rows = PassageVector.objects.filter(passage__in=passages, model=second_model_name())
    return {row.passage_id: np.asarray(row.embedding) for row in rows}


def test_the_build_fills_the_side_table_when_the_ensemble_is_on(ensemble_on: None, user: Any) -> None:
    passages = build(TEXTS, owner=user)
    stored = second_vectors_of(passages)
    assert set(stored) == {passage.pk for passage in passages}
    for passage in passages:
        assert np.allclose(stored[passage.pk], embed_second([passage.text])[0], atol=1e-4)
        assert passage.embedding is not None  # the main vector as before


def test_the_build_leaves_the_side_table_empty_when_the_ensemble_is_off(user: Any) -> None:
    passages = build(TEXTS, owner=user)
    assert all(passage.embedding is not None for passage in passages)
    assert not PassageVector.objects.filter(passage__in=passages).exists()


def test_replacing_a_source_replaces_its_second_vectors(ensemble_on: None, user: Any) -> None:
    first = build(TEXTS, owner=user)
    source_id = first[0].source_id
    texts = ["Blessed are the peacemakers."]
    passages_replace_for_source(
        source_kind=Passage.SourceKind.DOCUMENT,
        source_id=source_id,
        title="Fixture",
        passages=passages_build([PassageText(text) for text in texts], vectors=passages_embed(texts)),
        access=PassageAccess(visibility=Passage.Visibility.PRIVATE, owner_id=user.pk),
    )
    assert not PassageVector.objects.filter(passage_id__in=[p.pk for p in first]).exists()
    assert PassageVector.objects.filter(passage__source_id=source_id).count() == 1


def test_second_ranking_gives_the_nearest_passages_by_the_second_model(ensemble_on: None, user: Any) -> None:
    word = marker()
    passages = build([f"{text} ({word})" for text in TEXTS], owner=user)
    mine = visible_passages(user).filter(source_id=passages[0].source_id)
    query = "a parable about searching for a lost sheep"
    ranked = second_ranking(mine, query, limit=3)

    by_numpy = embed_second([p.text for p in passages]) @ embed_second([query], query=True)[0]
    assert ranked == [passages[i].pk for i in np.argsort(-by_numpy)]
    assert ranked[0] == passages[0].pk
    assert second_ranking(mine, query, limit=1) == ranked[:1]


def test_second_ranking_respects_the_passages_queryset(ensemble_on: None, make_user: Any) -> None:
    owner, stranger = make_user(), make_user()
    word = marker()
    private = build([f"The {word} manuscript: the lost sheep is carried home."], owner=owner)
    public = build([f"The {word} tract: the lost sheep is found."], owner=owner, visibility=Passage.Visibility.PUBLIC)
    query = f"{word}: a lost sheep carried home"
    seen_by_owner = second_ranking(visible_passages(owner), query, limit=50)
    seen_by_stranger = second_ranking(visible_passages(stranger), query, limit=50)
    assert private[0].pk in seen_by_owner and public[0].pk in seen_by_owner
    assert public[0].pk in seen_by_stranger
    assert private[0].pk not in seen_by_stranger


def test_second_ranking_is_empty_when_the_ensemble_is_off(user: Any) -> None:
    passages = add_passages(TEXTS, owner=user)
    assert second_ranking(Passage.objects.filter(pk__in=[p.pk for p in passages]), "lost sheep", limit=5) == []


def test_reembed_fills_the_side_table_of_passages_embedded_before(ensemble_on: None, user: Any) -> None:
    passages = add_passages(TEXTS, owner=user)  # main vectors only: the ensemble came later
    out = StringIO()
    call_command("reembed", "--batch-size", "2", stdout=out)
    assert f"to embed with {second_model_name()}" in out.getvalue()
    stored = second_vectors_of(passages)
    assert set(stored) == {passage.pk for passage in passages}
    assert np.allclose(stored[passages[1].pk], embed_second([TEXTS[1]])[0], atol=1e-4)
    again = StringIO()
    call_command("reembed", stdout=again)
    assert f"0 passage(s) to embed with {second_model_name()}" in again.getvalue()


def test_reembed_without_the_ensemble_leaves_the_side_table_alone(user: Any) -> None:
    passages = add_passages(TEXTS, owner=user)
    out = StringIO()
    call_command("reembed", stdout=out)
    assert second_model_name() not in out.getvalue()
    assert not PassageVector.objects.filter(passage__in=passages).exists()


def test_background_embedding_makes_both_vectors(ensemble_on: None, user: Any) -> None:
    """Bible verses are stored without vectors and embedded in batches: both models embed them."""
    passages = add_passages(TEXTS, owner=user, embed=False)
    while passages_embed_stale(batch_size=2):
        pass
    assert set(second_vectors_of(passages)) == {passage.pk for passage in passages}
    assert not second_stale_passages().filter(pk__in=[p.pk for p in passages]).exists()


def test_the_health_check_loads_the_second_model() -> None:
    check_second_model()  # raises when the model cannot load or embed


def test_search_with_the_ensemble_on_blends_both_models(ensemble_on: None, user: Any, settings: Any) -> None:
    """The second model's nearest passages join the candidates, and each candidate's
    similarity is the mean of both models' (the second's on the first's scale)."""
    from apps.index.search import VECTOR, passages_search

    word = marker()
    passages = build([f"{text} ({word})" for text in TEXTS], owner=user)
    query = "a parable about searching for a lost sheep"
    options = {"user": user, "query": query, "scope": "documents", "source_ids": [passages[0].source_id]}
    alone = passages_search(**options, methods=[VECTOR]).hits
    settings.SEARCH_CANDIDATES = 1  # each model brings only its nearest passage
    blended = passages_search(**options, methods=[VECTOR]).hits
    assert blended[0].passage.pk == passages[0].pk
    assert {hit.passage.pk for hit in alone} == {passage.pk for passage in passages}
    # With one candidate per model the scale is unknown (two scores are needed): the
    # first model's similarity stands, so the blend never invents a score.
    assert blended[0].score == pytest.approx(alone[0].score, abs=1e-6)


def test_the_blend_maps_the_second_model_onto_the_first_models_scale() -> None:
    from apps.index.fusion import Candidate, blend_second

    ids = [uuid.uuid4() for _ in range(3)]
    candidates = [Candidate(ids[i], "document", ids[0], i, [], "") for i in range(3)]
    for candidate, similarity in zip(candidates, (0.6, 0.5, 0.4), strict=True):
        candidate.similarity = similarity
    first = [(ids[0], 0.4), (ids[2], 0.6)]  # similarities 0.6 ... 0.4
    second = [(ids[1], 0.1), (ids[0], 0.2)]  # the second model prefers ids[1]: 0.9 ... 0.8
    blend_second(candidates, first, second)
    # ids[1]: its second score is the second's best -> 0.6 on the first's scale.
    assert [round(c.similarity, 6) for c in candidates] == [0.5, 0.55, 0.4]
