"""Ingestion's abuse limits, in one place: how many times one document may be started
without finishing, how many passages one document may make, and the readable reasons a
document fails or an upload is refused for them (settings in theo/settings.py)."""

from __future__ import annotations

from django.conf import settings


def max_attempts() -> int:
    return max(1, settings.INGEST_MAX_ATTEMPTS)


def interrupted_reason(attempts: int) -> str:
    return (
        f"Processing was interrupted {attempts} times (a worker stopped mid-document, for example killed "
        "for running out of memory), so Theo stopped trying (THEO_INGEST_MAX_ATTEMPTS). "
        "Reprocess to try again, or split the file if it is very large."
    )


def too_many_passages_reason(count: int) -> str:
    return (
        f"The file would make {count:,} passages, more than the {settings.MAX_DOCUMENT_PASSAGES:,} Theo keeps "
        "for one document (THEO_MAX_DOCUMENT_PASSAGES). Split it into smaller files, or ask an admin to raise "
        "the limit."
    )


def quota_bytes() -> int:
    """0: no quota."""
    return max(0, settings.USER_QUOTA_MB) * 1024 * 1024
