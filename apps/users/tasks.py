from __future__ import annotations

from celery import shared_task

from apps.users.services import flush_expired_tokens


@shared_task(acks_late=True)
def flush_expired_tokens_task() -> None:
    """Daily (beat): drop expired refresh tokens from the outstanding and blacklist tables."""
    flush_expired_tokens()
