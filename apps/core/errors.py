"""Domain errors and the one error format: {"error": {"code", "message", "details"}}.

Services raise the exceptions below; `api_exception_handler` (DRF) and the Django
error views (apps/core/views.py) turn these and every other error into that format.
Codes are listed in docs/api.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.metrics import api_error_count

logger = structlog.get_logger(__name__)


class TheoError(Exception):
    """Base of Theo's domain errors: an HTTP status, a stable code and a readable message."""

    status_code = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(TheoError):
    status_code = 400
    code = "validation_error"
    message = "Some of the submitted data is invalid."


def check_choice(field: str, value: Any, choices: list[str]) -> None:
    """ValidationFailed on `field`, listing the choices, unless `value` is one of them."""
    if value not in choices:
        raise ValidationFailed(details={field: [f"One of: {', '.join(choices)}."]})


class NotAuthenticated(TheoError):
    status_code = 401
    code = "not_authenticated"
    message = "Sign in to continue."


class PermissionDenied(TheoError):
    status_code = 403
    code = "permission_denied"
    message = "You do not have permission to do this."


class NotFound(TheoError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class Conflict(TheoError):
    status_code = 409
    code = "conflict"
    message = "This conflicts with something that already exists."


class PayloadTooLarge(TheoError):
    status_code = 413
    code = "payload_too_large"
    message = "The upload is too large."


class QuotaExceeded(PayloadTooLarge):
    """An upload past the owner's storage quota (THEO_USER_QUOTA_MB): 413 like any upload too large."""

    code = "quota_exceeded"
    message = "This upload would take your stored documents past your quota."


class DatabaseBusy(TheoError):
    """Every connection of this process's database pool stayed busy for THEO_DB_POOL_TIMEOUT."""

    status_code = 503
    code = "database_busy"
    message = "The server is busy: every database connection is in use. Try again in a few seconds."
    retry_after = 5

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("details", {"retry_after": self.retry_after})
        kwargs.setdefault("headers", {"Retry-After": str(self.retry_after)})
        super().__init__(message, **kwargs)


def is_pool_timeout(exc: BaseException | None) -> bool:
    """True for psycopg_pool.PoolTimeout, also when Django wrapped it in its OperationalError."""
    from psycopg_pool import PoolTimeout

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, PoolTimeout):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class RateLimited(TheoError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: int, **kwargs: Any) -> None:
        retry_after = max(1, int(retry_after))
        self.retry_after = retry_after
        kwargs.setdefault("details", {"retry_after": retry_after})
        kwargs.setdefault("headers", {"Retry-After": str(retry_after)})
        super().__init__(message or f"Too many requests. Try again in {retry_after} seconds.", **kwargs)


@dataclass
class ApiError:
    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


SERVER_ERROR_MESSAGE = "Something went wrong on our side. It has been logged; please try again."

_DRF_CODES = {
    drf.ValidationError: "validation_error",
    drf.ParseError: "parse_error",
    drf.NotAuthenticated: "not_authenticated",
    drf.AuthenticationFailed: "authentication_failed",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "rate_limited",
}


def _drf_error(exc: drf.APIException) -> ApiError:
    detail = exc.detail
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
    if isinstance(exc, drf.ValidationError):
        details = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        return ApiError(400, "validation_error", ValidationFailed.message, _plain(details))
    if isinstance(detail, dict):  # simplejwt: {"detail", "code", "messages"}
        message = str(detail.get("detail", exc.default_detail))
        code = str(detail.get("code") or code or exc.default_code)
        return ApiError(exc.status_code, code, message)
    if isinstance(exc, drf.PermissionDenied) and str(detail).startswith("CSRF Failed"):
        return ApiError(403, "csrf_failed", "CSRF check failed. Send the csrftoken cookie value as X-CSRFToken.")
    if isinstance(exc, drf.Throttled):
        wait = math.ceil(exc.wait or 1)  # type: ignore[attr-defined]  # set in __init__, not in the stubs
        return ApiError(
            429,
            "rate_limited",
            f"Too many requests. Try again in {wait} seconds.",
            {"retry_after": wait},
            {"Retry-After": str(wait)},
        )
    return ApiError(exc.status_code, code or str(exc.default_code), str(detail))


def _plain(value: Any) -> Any:
    """ErrorDetail trees -> plain JSON (lists of strings keyed by field)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def error_for_exception(exc: BaseException) -> ApiError:
    """Map any exception to the API error it should produce."""
    if isinstance(exc, TheoError):
        return ApiError(exc.status_code, exc.code, exc.message, exc.details, exc.headers)
    if is_pool_timeout(exc):
        busy = DatabaseBusy()
        return ApiError(busy.status_code, busy.code, busy.message, busy.details, busy.headers)
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        return ApiError(404, "not_found", NotFound.message)
    if isinstance(exc, DjangoPermissionDenied):
        return ApiError(403, "permission_denied", PermissionDenied.message)
    if isinstance(exc, drf.APIException):
        return _drf_error(exc)
    return ApiError(500, "server_error", SERVER_ERROR_MESSAGE)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF EXCEPTION_HANDLER: every error in the one format, never a traceback page."""
    error = error_for_exception(exc)
    if error.code == DatabaseBusy.code:  # load, not a bug: no traceback
        logger.warning("database_pool_timeout", error=str(exc))
    elif error.status >= 500:
        logger.exception("unhandled_api_error", exc_info=exc)
    # DRF's own handler contributes WWW-Authenticate for 401s.
    drf_response = drf_exception_handler(exc, context) if isinstance(exc, drf.APIException) else None
    headers = dict(error.headers)
    api_error_count(code=error.code)
    if drf_response is not None and "WWW-Authenticate" in drf_response:
        headers["WWW-Authenticate"] = drf_response["WWW-Authenticate"]
    return Response(error.body(), status=error.status, headers=headers)
