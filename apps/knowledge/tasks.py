"""Background work of the knowledge store: indexing entries.

Thin: the task calls one service and is idempotent, so a redelivered task changes nothing."""

from __future__ import annotations

from celery import shared_task

from apps.knowledge import services


@shared_task(acks_late=True, reject_on_worker_lost=True, max_retries=3, default_retry_delay=10)
def index_entry_task(entry_id: str) -> None:
    """Chunk and embed one knowledge entry into passages (or drop them if it is gone)."""
    services.entry_index(entry_id=entry_id)
