"""Background work of the knowledge app: indexing entries, loading and embedding the Bibles.

Thin: each task calls one service and is idempotent, so a redelivered task changes nothing."""

from __future__ import annotations

from celery import shared_task

from apps.knowledge import bible, indexing, services


@shared_task(acks_late=True, reject_on_worker_lost=True, max_retries=3, default_retry_delay=10)
def index_entry_task(entry_id: str) -> None:
    """Chunk and embed one knowledge entry into passages (or drop them if it is gone)."""
    services.entry_index(entry_id=entry_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def load_bibles_task() -> dict[str, int]:
    """Insert any missing verse rows (text search works on them at once), then start the
    background chain that embeds them. Started by `manage.py run` and re-checked by beat."""
    inserted = bible.bibles_load()
    if indexing.embedding_chain_should_start():
        embed_pending_bible_task.delay()
    return inserted


@shared_task(acks_late=True, reject_on_worker_lost=True)
def embed_pending_bible_task() -> int:
    """Embed one batch of Bible verses, then queue the next batch: document ingestion on the
    same queue gets its turn between batches instead of waiting minutes for the whole Bible."""
    embedded = indexing.passages_embed_stale(source_kind="bible")
    if embedded:
        embed_pending_bible_task.delay()
    else:
        indexing.embedding_chain_finished()
    return embedded
