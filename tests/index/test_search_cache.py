"""Cached search results (index.search with core.cache): a repeated search is served from
the cache, and no write, share or access change can serve a stale answer, because the
key holds the user's access rule and the index generation (index.generation)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from apps.index import search
from apps.index.generation import index_generation
from apps.index.models import Passage
from apps.index.selectors import PassageAccess
from apps.index.services import passages_set_access
from tests.index.corpus import add_passages, marker


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The queries really searched (not served from the cache)."""
    ran: list[str] = []
    real = search._searched

    def counting(request: Any) -> Any:
        ran.append(request.query)
        return real(request)

    monkeypatch.setattr(search, "_searched", counting)
    return ran


def found(user: Any, query: str) -> list[str]:
    return [hit.passage.text for hit in search.passages_search(user=user, query=query, scope="documents").hits]


@pytest.mark.django_db
def test_a_repeated_search_is_served_from_the_cache(user: Any, searches: list[str]) -> None:
    word = marker()
    add_passages([f"The {word} of Bethlehem."], owner=user)
    assert found(user, word) == found(user, word) == [f"The {word} of Bethlehem."]
    assert searches == [word]


@pytest.mark.django_db
def test_a_new_passage_is_found_at_once(user: Any, searches: list[str]) -> None:
    word = marker()
    add_passages([f"The first {word}."], owner=user)
    assert len(found(user, word)) == 1
    add_passages([f"The second {word}."], owner=user)  # any write moves the generation
    assert len(found(user, word)) == 2
    assert searches == [word, word]


@pytest.mark.django_db
def test_a_share_and_an_unshare_reach_the_next_search(user: Any, make_user: Any) -> None:
    word, owner = marker(), make_user()
    (passage,) = add_passages([f"A private {word}."], owner=owner)
    assert found(user, word) == []
    shared = PassageAccess(Passage.Visibility.PRIVATE, owner_id=owner.pk, shared_with=(user.pk,))
    passages_set_access(source_kind=passage.source_kind, source_id=passage.source_id, access=shared)
    assert found(user, word) == [f"A private {word}."]
    private = PassageAccess(Passage.Visibility.PRIVATE, owner_id=owner.pk)
    passages_set_access(source_kind=passage.source_kind, source_id=passage.source_id, access=private)
    assert found(user, word) == []


@pytest.mark.django_db
def test_each_user_and_each_access_state_has_its_own_results(user: Any, make_user: Any) -> None:
    word = marker()
    add_passages([f"Members read the {word}."], owner=make_user(), visibility=Passage.Visibility.MEMBERS)
    guest = make_user(role="guest")
    assert found(user, word) == [f"Members read the {word}."]
    assert found(guest, word) == []  # guests do not see members' passages
    user.status = "pending"
    user.save()
    assert found(user, word) == []  # no longer approved: a different rule, a different key


@pytest.mark.django_db(transaction=True)
def test_a_committed_write_moves_the_generation_once_more_after_the_commit(user: Any) -> None:
    (passage,) = add_passages([f"Elsewhere {marker()}."], owner=user)
    shared = PassageAccess(Passage.Visibility.PRIVATE, owner_id=user.pk)
    generations: list[int] = [index_generation()]
    with transaction.atomic():
        passages_set_access(source_kind=passage.source_kind, source_id=passage.source_id, access=shared)
        generations.append(index_generation())  # the trigger's bump, inside the transaction
    generations.append(index_generation())  # the service's bump, on commit
    assert generations[0] < generations[1] < generations[2]


@pytest.mark.django_db
def test_results_are_not_cached_when_the_setting_is_zero(settings: Any, searches: list[str], user: Any) -> None:
    settings.SEARCH_CACHE_SECONDS = 0
    word = marker()
    found(user, word)
    found(user, word)
    assert searches == [word, word]
