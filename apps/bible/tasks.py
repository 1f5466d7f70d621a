"""Background work of the Bible app: loading and embedding the Bibles.

Thin: each task calls one service and is idempotent, so a redelivered task changes nothing.
The tasks keep the names they had in `apps.knowledge.tasks`, so messages already queued
and beat's stored schedule still find them after an upgrade."""

from __future__ import annotations

from celery import shared_task

from apps.bible import translations
from apps.index import reembed


@shared_task(name="apps.knowledge.tasks.load_bibles_task", acks_late=True, reject_on_worker_lost=True)
def load_bibles_task() -> dict[str, int]:
    """Insert any missing verse rows (text search works on them at once), then start the
    background chain that embeds them. Started by `manage.py run` and re-checked by beat."""
    inserted = translations.bibles_load()
    if reembed.embedding_chain_should_start():
        embed_pending_bible_task.delay()
    return inserted


@shared_task(name="apps.knowledge.tasks.embed_pending_bible_task", acks_late=True, reject_on_worker_lost=True)
def embed_pending_bible_task() -> int:
    """Embed one batch of Bible verses, then queue the next batch: document ingestion on the
    same queue gets its turn between batches instead of waiting minutes for the whole Bible."""
    embedded = reembed.passages_embed_stale(source_kind="bible")
    if embedded:
        embed_pending_bible_task.delay()
    else:
        reembed.embedding_chain_finished()
    return embedded
