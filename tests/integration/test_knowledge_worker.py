"""Knowledge work through a real Celery worker: an entry saved through the API is chunked
and embedded by the worker and becomes searchable when staff approve it; Bible verses are
embedded by the background chain."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from pythonbible import Book

from apps.bible.tasks import embed_pending_bible_task
from apps.bible.translations import bible_load, translation_source_id
from apps.index.embeddings import model_name
from apps.index.models import Passage
from tests.index.corpus import marker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TIMEOUT = 90  # the worker loads the embedding model on its first task


def wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.25)


def test_an_entry_is_indexed_by_the_worker_and_found_once_approved(
    celery_worker: str, client_for: Any, make_user: Any
) -> None:
    power, staff, reader = make_user(role="power"), make_user(role="admin"), make_user(role="user")
    word = marker()
    response = client_for(power).post(
        "/api/v1/knowledge/entries/",
        {"title": f"The {word} doctrine", "body": f"On {word}: the golden chain of Rom 8:29-30.", "tags": ["ordo"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    entry_id = response.json()["id"]
    passages = Passage.objects.filter(source_kind="knowledge", source_id=entry_id)
    wait_for(lambda: passages.filter(embedding_model=model_name()).exists(), "indexing the entry")
    assert passages[0].verse_ids == [45008029, 45008030]

    def reader_finds_it() -> bool:
        results = client_for(reader).get("/api/v1/search/", {"q": word, "scope": "knowledge"}).json()["results"]
        return any(result["entry_id"] == entry_id for result in results)

    assert not reader_finds_it()  # submitted drafts are private to the author and staff
    assert client_for(staff).post(f"/api/v1/knowledge/entries/{entry_id}/approve/").status_code == 200
    assert reader_finds_it()


def test_the_background_chain_embeds_loaded_verses(celery_worker: str) -> None:
    bible_load(translation="kjv", books=[Book.JUDE])
    jude = Passage.objects.filter(source_kind="bible", source_id=translation_source_id("kjv"))
    assert jude.count() == 25 and not jude.exclude(embedding=None).exists()
    embed_pending_bible_task.delay()
    wait_for(lambda: not jude.filter(embedding=None).exists(), "embedding Jude")
    assert set(jude.values_list("embedding_model", flat=True)) == {model_name()}
