"""What the staff Jobs page shows (apps/documents/admin_jobs.py): the Celery queues and
workers, documents in the pipeline, stuck or failed, and how far the Bibles are indexed.

Every read here answers with Redis down: queue depths are then None and no worker is
pinged (a ping on a dead broker would retry), so the page says so instead of failing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from celery import current_app
from django.conf import settings
from django.db.models import QuerySet
from kombu.exceptions import OperationalError

from apps.bible.translations import TranslationStatus, bible_status
from apps.core.redis import broker_queue_depths
from apps.documents.models import Document
from apps.documents.selectors import IN_PIPELINE, stuck_cutoff

LIST_LIMIT = 50  # rows per list: the admin's document list has the rest
PING_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class PipelineRow:
    document: Document
    stuck: bool


@dataclass(frozen=True)
class JobsOverview:
    queues: dict[str, int] | None  # None: the broker did not answer
    workers: list[str]  # names of the workers that answered the ping
    in_pipeline: list[PipelineRow]  # queued or processing, oldest update first
    in_pipeline_count: int
    stuck_count: int
    failed: list[Document]  # most recent first
    failed_count: int
    bibles: list[TranslationStatus]
    stuck_after_minutes: int


def workers_alive(*, app: Any = None) -> list[str]:
    """Workers answering a ping within a second; none on any broker error."""
    app = app or current_app
    try:
        replies = app.control.ping(timeout=PING_TIMEOUT_SECONDS) or []
    except (OSError, redis.RedisError, OperationalError):
        return []
    return sorted(name for reply in replies for name in reply)


def _pipeline_rows(documents: QuerySet[Document], cutoff: datetime) -> list[PipelineRow]:
    return [PipelineRow(document, document.updated_at < cutoff) for document in documents]


def jobs_overview() -> JobsOverview:
    queues = broker_queue_depths(app=current_app, queues=_queue_names())
    cutoff = stuck_cutoff()
    pipeline = Document.objects.filter(status__in=IN_PIPELINE).select_related("owner")
    failed = Document.objects.filter(status=Document.Status.FAILED).select_related("owner")
    return JobsOverview(
        queues=queues,
        workers=workers_alive() if queues is not None else [],
        in_pipeline=_pipeline_rows(pipeline.order_by("updated_at")[:LIST_LIMIT], cutoff),
        in_pipeline_count=pipeline.count(),
        stuck_count=pipeline.filter(updated_at__lt=cutoff).count(),
        failed=list(failed.order_by("-updated_at")[:LIST_LIMIT]),
        failed_count=failed.count(),
        bibles=bible_status(),
        stuck_after_minutes=settings.INGEST_STUCK_MINUTES,
    )


def _queue_names() -> list[str]:
    return [name.strip() for name in settings.WORKER_QUEUES.split(",") if name.strip()]
