from __future__ import annotations

from celery import shared_task

from apps.documents import pipeline, services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=pipeline.TRANSIENT_ERRORS,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def ingest_document_task(document_id: str) -> None:
    """Idempotent: safe to run twice, so a lost worker's task is simply delivered again."""
    pipeline.run(document_id=document_id)


@shared_task(acks_late=True)
def requeue_stuck_documents_task() -> list[str]:
    """Beat, every few minutes: re-queue documents stuck in processing past the timeout."""
    return services.documents_requeue_stuck()
