"""The ingestion pipeline: extract -> chunk -> embed -> index -> references -> themes.

`run(document_id=...)` is idempotent: it reads the stored file, rebuilds everything from
it and swaps the passages in atomically, so a redelivered or repeated task changes
nothing and duplicates nothing. Every stage reports to the row (stage, progress,
message, stage_log) and to the channel group `document-<id>`.

It is also single-flight: a run holds a PostgreSQL advisory lock on the document for as
long as it works, so a second delivery of the task while the first still runs (the
broker's visibility timeout, a duplicate enqueue) is a no-op. The lock belongs to the
run's database session: a worker killed by the kernel loses it with its connection, and
the redelivered task may start again; `attempts` counts those starts, and past
THEO_INGEST_MAX_ATTEMPTS the document fails with a reason instead of running again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.core.services import audit_record
from apps.documents import limits, realtime, storage
from apps.documents.chunking import Chunk, chunk_pages, passage_count
from apps.documents.extraction import ExtractionFailed, extract_pages
from apps.documents.models import Document
from apps.documents.selectors import passage_access_for
from apps.documents.themes import identify_themes
from apps.index.models import Passage
from apps.index.services import PassageText, passages_build, passages_embed, passages_replace_for_source

logger = structlog.get_logger(__name__)
Stage = Document.Stage
# Errors worth retrying (database or broker briefly away); anything else fails the document.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, RedisConnectionError)

# Where each stage starts on the 0-100 progress bar.
STAGE_START: dict[str, int] = {
    Stage.EXTRACT: 2,
    Stage.CHUNK: 15,
    Stage.EMBED: 20,
    Stage.INDEX: 85,
    Stage.REFERENCES: 90,
    Stage.THEMES: 95,
    Stage.DONE: 100,
}


class DocumentGone(Exception):
    """The document was deleted while it was being processed: stop quietly."""


def report(document: Document, *, stage: str, progress: int, message: str, finished_stage: str = "") -> None:
    """Save the stage and progress, log a finished stage, tell everyone following."""
    document.stage = stage
    document.progress = max(0, min(100, progress))
    document.progress_message = message[:300]
    document.updated_at = timezone.now()
    fields = ["status", "stage", "progress", "progress_message", "failure_reason", "updated_at"]
    if finished_stage:
        document.stage_log = [
            *document.stage_log,
            {"stage": finished_stage, "message": message[:300], "at": document.updated_at.isoformat()},
        ]
        fields.append("stage_log")
    if not Document.objects.filter(pk=document.pk).update(**{f: getattr(document, f) for f in fields}):
        raise DocumentGone()
    realtime.broadcast(document.pk, realtime.progress_event(document))


def _lock_key(document_id: str) -> str:
    return f"theo.ingest:{document_id}"


@contextmanager
def single_flight(document_id: str) -> Iterator[bool]:
    """Yields whether this run holds the document's advisory lock (session level, so it
    outlives the short transactions below and dies with a killed worker's connection)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [_lock_key(document_id)])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [_lock_key(document_id)])
            except DatabaseError:  # the connection is gone, and the lock went with it
                logger.warning("ingest_unlock_failed", document_id=document_id)


def claim(document_id: str) -> Document | None:
    """Mark the document processing, unless it no longer needs it (deleted, or already
    completed/failed: a duplicate delivery of a finished task), or it has been started
    THEO_INGEST_MAX_ATTEMPTS times without finishing: then it fails with a reason."""
    with transaction.atomic():
        document = Document.objects.select_for_update().filter(pk=document_id).first()
        if document is None or document.is_finished:
            return None
        exhausted = document.attempts >= limits.max_attempts()
        if not exhausted:
            document.status = Document.Status.PROCESSING
            document.stage_log = []
            document.failure_reason = ""
            document.attempts += 1
            document.processing_started_at = timezone.now()
            document.save(
                update_fields=[
                    "status",
                    "stage_log",
                    "failure_reason",
                    "attempts",
                    "processing_started_at",
                    "updated_at",
                ]
            )
    if exhausted:  # outside the transaction: the failure is broadcast once it is stored
        give_up(document)
        return None
    return document


def run(*, document_id: str) -> None:
    with single_flight(document_id) as held:
        if not held:
            logger.info("ingest_skipped_already_running", document_id=document_id)
            return
        document = claim(document_id)
        if document is None:
            logger.info("ingest_skipped", document_id=document_id)
            return
        _run_claimed(document)


def _run_claimed(document: Document) -> None:
    log = logger.bind(document_id=str(document.pk), attempt=document.attempts)
    log.info("ingest_started", file_type=document.file_type, size_bytes=document.size_bytes)
    try:
        _ingest(document)
    except ExtractionFailed as exc:
        fail(document, str(exc))
        log.info("ingest_failed", reason=str(exc))
    except DocumentGone:
        log.info("ingest_abandoned_document_deleted")
    except TRANSIENT_ERRORS:
        _postpone(document)
        raise  # the task retries with backoff
    except Exception:
        log.exception("ingest_crashed")
        fail(document, "An unexpected error stopped processing. It has been logged; try reprocessing.")


def _postpone(document: Document) -> None:
    """A brief outage is not an interruption: give the start back, so the retry does not
    count towards THEO_INGEST_MAX_ATTEMPTS. (If the database itself is away this fails too,
    and the start counts: the bound still holds.)"""
    try:
        Document.objects.filter(pk=document.pk, status=Document.Status.PROCESSING).update(
            status=Document.Status.QUEUED,
            attempts=Greatest(F("attempts") - 1, 0),
            progress_message="Waiting to retry after a temporary error",
            updated_at=timezone.now(),
        )
    except DatabaseError:
        logger.warning("ingest_postpone_failed", document_id=str(document.pk))


def advance(document: Document, *, finished: str, to: str, message: str) -> None:
    """One stage is done (logged with `message`); the next starts at its place on the bar."""
    report(document, stage=to, progress=STAGE_START[to], message=message, finished_stage=finished)


def _ingest(document: Document) -> None:
    report(document, stage=Stage.EXTRACT, progress=STAGE_START[Stage.EXTRACT], message="Extracting text")
    pages = extract_pages(storage.path_for(document), document.file_type)
    Document.objects.filter(pk=document.pk).update(page_count=len(pages))
    advance(document, finished=Stage.EXTRACT, to=Stage.CHUNK, message=f"Extracted {len(pages)} page(s)")

    count = passage_count(pages, size=settings.CHUNK_WORDS, overlap=settings.CHUNK_OVERLAP_WORDS)
    if count > settings.MAX_DOCUMENT_PASSAGES:  # counted before a single passage is built
        raise ExtractionFailed(limits.too_many_passages_reason(count))
    chunks = chunk_pages(pages, size=settings.CHUNK_WORDS, overlap=settings.CHUNK_OVERLAP_WORDS)
    if not chunks:
        raise ExtractionFailed("No text found in the file.")
    advance(document, finished=Stage.CHUNK, to=Stage.EMBED, message=f"Split into {len(chunks)} passages")

    vectors = _embed(document, chunks)
    advance(document, finished=Stage.EMBED, to=Stage.INDEX, message=f"Embedded {len(chunks)} passages")

    _index(document, chunks, vectors)
    advance(document, finished=Stage.INDEX, to=Stage.REFERENCES, message=f"Indexed {len(chunks)} passages")

    found = _index_references(document)
    advance(document, finished=Stage.REFERENCES, to=Stage.THEMES, message=f"Found {found} scripture reference(s)")

    document.themes = identify_themes([chunk.text for chunk in chunks])
    complete(document, passage_count=len(chunks))


def _index(document: Document, chunks: list[Chunk], vectors: list[list[float]]) -> None:
    """Swap the document's passages for the new ones in one transaction."""
    passages = passages_build(
        [
            PassageText(
                chunk.text,
                page_start=chunk.page_start,
                page_end=chunk.page_end,
                page_label=chunk.page_label,
                section=chunk.section,
            )
            for chunk in chunks
        ],
        vectors=vectors,
    )
    with transaction.atomic():
        # Locked: a delete or share change waits for the swap, or happens before it.
        current = Document.objects.select_for_update().filter(pk=document.pk).first()
        if current is None:
            raise DocumentGone()
        passages_replace_for_source(
            source_kind=Passage.SourceKind.DOCUMENT,
            source_id=document.pk,
            title=current.title,
            passages=passages,
            access=passage_access_for(current),
        )


def _embed(document: Document, chunks: list[Chunk]) -> list[list[float]]:
    """Embed in batches, reporting progress after each."""
    span = STAGE_START[Stage.INDEX] - STAGE_START[Stage.EMBED]

    def embedded(done: int) -> None:
        report(
            document,
            stage=Stage.EMBED,
            progress=STAGE_START[Stage.EMBED] + span * done // len(chunks),
            message=f"Embedded {done} of {len(chunks)} passages",
        )

    return passages_embed([chunk.embedding_text for chunk in chunks], on_batch=embedded)


def _index_references(document: Document) -> int:
    """How many scripture references the indexed passages cite (found when they were built)."""
    passages = Passage.objects.filter(source_kind=Passage.SourceKind.DOCUMENT, source_id=document.pk)
    return sum(len(references) for references in passages.values_list("scripture_references", flat=True))


def complete(document: Document, *, passage_count: int) -> None:
    document.status = Document.Status.COMPLETED
    document.passage_count = passage_count
    document.completed_at = timezone.now()
    Document.objects.filter(pk=document.pk).update(
        passage_count=passage_count, completed_at=document.completed_at, themes=document.themes
    )
    report(
        document,
        stage=Stage.DONE,
        progress=100,
        message=f"Ready: {passage_count} passages"
        + (f"; themes: {', '.join(document.themes[:5])}" if document.themes else ""),
        finished_stage=Stage.THEMES,
    )
    logger.info("ingest_completed", document_id=str(document.pk), passages=passage_count)


def give_up(document: Document) -> None:
    """Started too many times without finishing: failed, said so, and not run again."""
    fail(document, limits.interrupted_reason(document.attempts))
    audit_record(actor=None, action="document.give_up", target=document, data={"attempts": document.attempts})
    logger.warning("ingest_given_up", document_id=str(document.pk), attempts=document.attempts)


def fail(document: Document, reason: str) -> None:
    """Failed with a readable reason; the stage stays where it failed. Reprocess to retry."""
    document.status = Document.Status.FAILED
    document.failure_reason = reason
    report(document, stage=document.stage, progress=document.progress, message=reason)
