"""Upload handling: the size limit is enforced while the body streams in, and the file's
SHA-256 is computed on the way, so a 5 GB upload never reaches the disk.

The limit is on the whole request, not on each part: a body declaring more than the limit
(plus a little room for the form fields) is refused before a byte of it is read, and the
bytes of every file part together count against MAX_UPLOAD_MB, so a hundred parts of 49 MB
each are refused like one file of 4.9 GB. (Django's DATA_UPLOAD_MAX_MEMORY_SIZE covers
only the non-file fields, DATA_UPLOAD_MAX_NUMBER_FILES only the number of parts.)"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

from apps.core.errors import PayloadTooLarge, ValidationFailed

# Multipart boundaries, headers and the small form fields around the one file.
REQUEST_OVERHEAD_BYTES = 1024 * 1024


def max_upload_bytes() -> int:
    return settings.MAX_UPLOAD_MB * 1024 * 1024


def max_request_bytes() -> int:
    return max_upload_bytes() + REQUEST_OVERHEAD_BYTES


def upload_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than the {settings.MAX_UPLOAD_MB} MB limit.",
        details={"max_upload_mb": settings.MAX_UPLOAD_MB},
    )


def request_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The upload is larger than the {settings.MAX_UPLOAD_MB} MB limit (the whole request counts, "
        "not each file in it). Upload one file at a time.",
        details={"max_upload_mb": settings.MAX_UPLOAD_MB},
    )


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Writes to a temporary file; past the limit it stops storing, lets Django read (and
    discard) the rest of the body, and flags the request for a 413."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = max_upload_bytes()
        self.received = 0  # over the whole request: never reset per part
        self.files = 0
        self.hasher = hashlib.sha256()

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],  # noqa: N803 - Django's name for it
        content_length: int,
        boundary: Any,
        encoding: str | None = None,
    ) -> tuple[QueryDict, MultiValueDict] | None:
        if content_length > max_request_bytes():
            self._flag("request")
            return QueryDict(), MultiValueDict()  # nothing parsed, nothing read, nothing stored
        return None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        self.files += 1
        self.hasher = hashlib.sha256()
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self._flag("file" if self.files == 1 else "request")
            raise StopUpload(connection_reset=False)
        self.hasher.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int) -> Any:
        uploaded = super().file_complete(file_size)
        if uploaded is not None:
            uploaded.sha256 = self.hasher.hexdigest()  # type: ignore[attr-defined]  # read back by the upload view
        return uploaded

    def _flag(self, what: str) -> None:
        if self.request is not None:
            self.request.theo_upload_too_large = what  # type: ignore[attr-defined]


def install_upload_handler(request: HttpRequest) -> None:
    """Call before the body is parsed (DRF parses lazily, on first access to request.data)."""
    request.upload_handlers = [LimitedUploadHandler(request)]


def parsed_upload(request: Any) -> Any:
    """request.data of an upload (a DRF Request whose handler install_upload_handler set),
    with Django's own refusals (form fields past DATA_UPLOAD_MAX_MEMORY_SIZE, too many
    parts), which would otherwise be 500s, in the API's error format."""
    try:
        data = request.data
    except RequestDataTooBig as exc:
        raise PayloadTooLarge(
            "The form fields of the upload are too large; send the file with a short title.",
            details={"max_upload_mb": settings.MAX_UPLOAD_MB},
        ) from exc
    except (TooManyFieldsSent, TooManyFilesSent) as exc:
        raise ValidationFailed("The upload has too many parts; send one file at a time.") from exc
    check_not_too_large(request._request)
    return data


def check_not_too_large(request: HttpRequest) -> None:
    too_large = getattr(request, "theo_upload_too_large", "")
    if too_large == "request":
        raise request_too_large()
    if too_large:
        raise upload_too_large()
