"""Loading the Bibles as verse passages, embedding them in the background, and the
start-up hook of `manage.py run`."""

from __future__ import annotations

from io import StringIO
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from pythonbible import Book

from apps.bible import tasks
from apps.bible.apps import schedule_bible_load
from apps.bible.translations import bible_load, translation_source_id
from apps.index.embeddings import embed_texts, model_name
from apps.index.models import Passage
from apps.index.reembed import passages_embed_stale, stale_passages

pytestmark = pytest.mark.django_db


def verses(translation: str) -> Any:
    return Passage.objects.filter(source_kind="bible", source_id=translation_source_id(translation))


def test_load_inserts_public_verse_passages_once() -> None:
    assert bible_load(translation="kjv", books=[Book.RUTH]) == 85
    assert bible_load(translation="kjv", books=[Book.RUTH]) == 0  # idempotent on restart
    verse = verses("kjv").get(chunk_index=8001016)
    assert verse.reference == "Ruth 1:16" and verse.translation == "kjv"
    assert verse.text.startswith("And Ruth said, Intreat me not to leave thee")
    assert verse.visibility == "public" and verse.verse_ids == [8001016]
    assert verse.scripture_references == ["Ruth 1:16"]
    assert verse.embedding is None  # embedded in the background, not on load


def test_web_lacks_the_end_of_romans() -> None:
    bible_load(translation="web", books=[Book.ROMANS])
    assert verses("web").filter(chunk_index=45016024).exists()
    assert not verses("web").filter(chunk_index__in=[45016025, 45016026, 45016027]).exists()


def test_unknown_translation_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown translation"):
        bible_load(translation="niv")


def test_embedding_chain_embeds_every_verse_in_batches(settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMBEDDING_STALE_BATCH = 64
    bible_load(translation="web", books=[Book.RUTH])
    tasks.embed_pending_bible_task.delay()
    ruth = verses("web").filter(chunk_index__lt=9_000_000, chunk_index__gte=8_000_000)
    assert not ruth.filter(embedding__isnull=True).exists()
    verse = ruth.get(chunk_index=8001016)
    assert verse.embedding_model == model_name()
    assert np.allclose(verse.embedding, embed_texts([verse.text])[0], atol=1e-4)


def test_text_and_reference_search_work_before_embedding(client_for: Any, user: Any) -> None:
    bible_load(translation="web", books=[Book.RUTH])
    body = client_for(user).get("/api/v1/search/", {"q": "whither thou goest Ruth 1:16", "scope": "bible"}).json()
    assert body["results"][0]["reference"] == "Ruth 1:16"


def test_run_starts_the_load_in_the_background_unless_done(settings: Any, monkeypatch: Any) -> None:
    queued: list[tuple] = []
    monkeypatch.setattr(tasks.load_bibles_task, "delay", lambda *args: queued.append(args))
    settings.BIBLE_AUTOLOAD = False
    assert schedule_bible_load() == "" and queued == []
    settings.BIBLE_AUTOLOAD = True
    assert "background" in schedule_bible_load()
    assert queued == [()]


def test_load_bibles_command_reports_what_it_inserted(monkeypatch: Any) -> None:
    from apps.bible.management.commands import load_bibles

    monkeypatch.setattr(load_bibles, "bibles_load", lambda: {"kjv": 3, "web": 0})
    out = StringIO()
    call_command("load_bibles", "--no-embed", stdout=out)
    assert "KJV: 3 verse(s) inserted." in out.getvalue()


def test_stale_batches_share_work_between_workers() -> None:
    """Claimed rows are skipped by a second worker (SKIP LOCKED), so nothing is embedded twice."""
    bible_load(translation="kjv", books=[Book.RUTH])
    before = stale_passages(source_kind="bible").count()
    assert passages_embed_stale(source_kind="bible", batch_size=10) == 10
    assert stale_passages(source_kind="bible").count() == before - 10
