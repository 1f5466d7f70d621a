"""Upload handling: the size limit is enforced while the body streams in, and the file's
SHA-256 is computed on the way, so a 5 GB upload never reaches the disk."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest

from apps.core.errors import PayloadTooLarge


def max_upload_bytes() -> int:
    return settings.MAX_UPLOAD_MB * 1024 * 1024


def upload_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than the {settings.MAX_UPLOAD_MB} MB limit.",
        details={"max_upload_mb": settings.MAX_UPLOAD_MB},
    )


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Writes to a temporary file; past the limit it stops storing, lets Django read (and
    discard) the rest of the body, and flags the request for a 413."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = max_upload_bytes()
        self.received = 0
        self.hasher = hashlib.sha256()

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        self.received = 0
        self.hasher = hashlib.sha256()
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            if self.request is not None:
                self.request.theo_upload_too_large = True  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=False)
        self.hasher.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int) -> Any:
        uploaded = super().file_complete(file_size)
        if uploaded is not None:
            uploaded.sha256 = self.hasher.hexdigest()  # type: ignore[attr-defined]  # read back by the upload view
        return uploaded


def install_upload_handler(request: HttpRequest) -> None:
    """Call before the body is parsed (DRF parses lazily, on first access to request.data)."""
    request.upload_handlers = [LimitedUploadHandler(request)]


def check_not_too_large(request: HttpRequest) -> None:
    if getattr(request, "theo_upload_too_large", False):
        raise upload_too_large()
