"""The access rule inside search: a private passage reaches only its owner and the people it
is shared with, by every ranking; staff retrieve like everyone else (their moderation is in
the admin); a user who sees few passages still gets k."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from apps.index.embeddings import model_name
from apps.index.models import Passage
from apps.index.search import METHODS, passages_search
from apps.index.selectors import visible_passages
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db
URL = "/api/v1/search/"


@pytest.fixture
def people(make_user: Any) -> dict[str, Any]:
    return {
        "owner": make_user(role="user"),
        "sharee": make_user(role="user"),
        "guest_sharee": make_user(role="guest"),
        "staff": make_user(role="admin"),
        "stranger": make_user(role="user"),
        "power": make_user(role="power"),
        "guest": make_user(role="guest"),
    }


@pytest.fixture
def private_text(people: dict[str, Any]) -> str:
    word = marker()
    add_passages(
        [f"The {word} manuscript argues that grace precedes every good will (Rom 8:29)."],
        owner=people["owner"],
        shared_with=[people["sharee"], people["guest_sharee"]],
    )
    return word


SEES = {"owner": True, "sharee": True, "guest_sharee": True}  # not staff: DESIGN's "own + shared"


@pytest.mark.parametrize("who", ["owner", "sharee", "guest_sharee", "staff", "stranger", "power", "guest"])
@pytest.mark.parametrize("method", METHODS)
def test_private_document_passages_reach_only_owner_and_sharees(
    people: dict[str, Any], private_text: str, who: str, method: str
) -> None:
    query = {
        "vector": f"{private_text} manuscript: grace precedes every good will",
        "text": private_text,
        "reference": "Rom 8:29",
    }[method]
    hits = passages_search(user=people[who], query=query, scope="all", k=50, methods=[method]).hits
    found = any(private_text in hit.passage.text for hit in hits)
    assert found is SEES.get(who, False)


@pytest.mark.parametrize("who", ["owner", "sharee", "guest_sharee", "staff", "stranger", "power", "guest"])
def test_the_api_applies_the_same_rule(people: dict[str, Any], private_text: str, client_for: Any, who: str) -> None:
    response = client_for(people[who]).get(URL, {"q": private_text, "scope": "all", "k": 50})
    assert response.status_code == 200
    found = any(private_text in result["snippet"] for result in response.json()["results"])
    assert found is SEES.get(who, False)


def test_knowledge_passages_follow_entry_status(people: dict[str, Any]) -> None:
    word = marker()
    add_passages([f"Approved note {word}."], kind="knowledge", owner=people["power"], visibility="members")
    draft_word = marker()
    add_passages([f"Draft note {draft_word}."], kind="knowledge", owner=people["power"], visibility="private")

    def sees(who: str, text: str) -> bool:
        return visible_passages(people[who]).filter(text__contains=text).exists()

    assert [sees(who, word) for who in ("stranger", "power", "staff", "guest")] == [True, True, True, False]
    # A draft is its author's until approved; staff review it in the admin, not in search.
    assert [sees(who, draft_word) for who in ("stranger", "power", "staff", "guest")] == [False, True, False, False]


def test_staff_retrieve_their_own_and_shared_passages_and_public_ones(people: dict[str, Any]) -> None:
    """Positive control for the staff rule: staff are not shut out, only held to the same rule."""
    staff, owner = people["staff"], people["owner"]
    own, shared, public = marker(), marker(), marker()
    add_passages([f"Staff notes {own}."], owner=staff)
    add_passages([f"Shared notes {shared}."], owner=owner, shared_with=[staff])
    add_passages([f"Public notes {public}."], owner=owner, visibility="public")
    for word in (own, shared, public):
        hits = passages_search(user=staff, query=word, scope="all", k=10, methods=["text"]).hits
        assert any(word in hit.passage.text for hit in hits), word


def test_unapproved_and_anonymous_see_nothing(make_user: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert not visible_passages(make_user(status="pending")).exists()
    assert not visible_passages(AnonymousUser()).exists()


def test_a_user_who_sees_few_passages_still_gets_k(make_user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """300 passages of others lie nearer the query than the reader's own 15; the filtered
    vector query (HNSW iterative scan) must still return k of the reader's."""
    reader, other = make_user(), make_user()
    rng = np.random.default_rng(7)
    query_direction = rng.normal(size=384).astype(np.float32)

    def near(count: int, spread: float) -> list[np.ndarray]:
        vectors = query_direction + spread * rng.normal(size=(count, 384)).astype(np.float32)
        return list(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))

    def rows(owner: Any, vectors: list[np.ndarray], source: str) -> list[Passage]:
        import uuid

        source_id = uuid.uuid4()
        return [
            Passage(
                source_kind="document",
                source_id=source_id,
                chunk_index=i,
                title=source,
                text=f"{source} {i}",
                embedding=vector,
                embedding_model=model_name(),
                visibility="private",
                owner_id=owner.pk,
            )
            for i, vector in enumerate(vectors)
        ]

    Passage.objects.bulk_create(rows(other, near(300, 0.2), "others") + rows(reader, near(15, 1.0), "mine"))

    from apps.index import search

    unit_query = query_direction / np.linalg.norm(query_direction)
    monkeypatch.setattr(search, "embed_texts", lambda texts: np.array([unit_query]))
    hits = passages_search(user=reader, query="anything", scope="documents", k=10, methods=["vector"]).hits
    assert len(hits) == 10
    assert all(hit.passage.owner_id == reader.pk for hit in hits)
