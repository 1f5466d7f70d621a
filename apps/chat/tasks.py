"""Chat's Celery tasks (this module's name is the one Celery's autodiscovery imports)."""

from __future__ import annotations

import structlog
from celery import shared_task

from apps.chat.digest_run import digest_run
from apps.chat.digest_services import digest_fail
from apps.chat.models import Digest
from apps.chat.providers import ProviderFailed

logger = structlog.get_logger(__name__)
DIGEST_RETRIES = 3


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=DIGEST_RETRIES)
def digest_run_task(self, digest_id: str) -> None:  # type: ignore[no-untyped-def]
    """Idempotent (chat.digest_run): a lost worker's task is delivered again and resumes.
    Claude failing is retried with backoff; the last attempt falls back to the extractive
    summary."""
    try:
        digest_run(digest_id=digest_id, final_attempt=self.request.retries >= DIGEST_RETRIES)
    except ProviderFailed as error:
        raise self.retry(countdown=5 * 2**self.request.retries, exc=error) from error
    except Exception:
        logger.exception("digest_failed", digest_id=digest_id)
        digest = Digest.objects.filter(pk=digest_id).first()
        if digest is not None:
            digest_fail(digest=digest, code="internal_error", message="Theo failed while writing this digest.")
        raise
