"""Request ids (echo a valid incoming X-Request-ID or make one, on every response), the
refusal of NUL characters in the request line and headers, and forwarded headers (believed
only from a trusted proxy, apps/core/proxies.py)."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseBase
from django_structlog import signals as structlog_signals

from apps.core.proxies import client_address, peer_is_trusted_proxy

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_from(request: HttpRequest) -> str:
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    return incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex


class RequestHookMiddleware:
    """Sync and async alike: `before` may answer instead of the view; `after` may change
    the response. Subclasses write only the hooks."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def before(self, request: HttpRequest) -> HttpResponseBase | None:
        return None

    def after(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        return response

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self.before(request) or self.after(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        return self.before(request) or self.after(request, await self.get_response(request))


class RequestIdMiddleware(RequestHookMiddleware):
    """Runs first: the id is on the request for logging (django-structlog reads the same
    header) and on every response, errors and streams included."""

    def before(self, request: HttpRequest) -> None:
        request_id = request_id_from(request)
        request.META["HTTP_X_REQUEST_ID"] = request_id
        request.__dict__.pop("headers", None)  # request.headers is cached from META
        request.request_id = request_id  # type: ignore[attr-defined]
        request.started_at = time.monotonic()  # type: ignore[attr-defined]

    def after(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
        return response


FORWARDED_META = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT")


class ForwardedHeadersMiddleware(RequestHookMiddleware):
    """Drops X-Forwarded-* unless the peer is a trusted proxy, before SecurityMiddleware
    (X-Forwarded-Proto) and request.get_host() (X-Forwarded-Host) read them. Without a
    proxy Django ignores them anyway; with a proxy count every peer is the proxy."""

    def before(self, request: HttpRequest) -> None:
        if not peer_is_trusted_proxy(request.META.get("REMOTE_ADDR")):
            for name in FORWARDED_META:
                request.META.pop(name, None)
            request.__dict__.pop("headers", None)


@receiver(structlog_signals.bind_extra_request_metadata)
def _log_real_client_address(request: HttpRequest, logger: Any, log_kwargs: dict, **_: Any) -> None:
    """django-structlog binds ipware's guess (the leftmost forwarded address); the log
    gets the address rate limits and the audit trail use instead."""
    structlog.contextvars.bind_contextvars(ip=client_address(request))


@receiver(structlog_signals.bind_extra_request_finished_metadata)
def _add_duration(request: HttpRequest, logger: Any, response: HttpResponseBase, log_kwargs: dict, **_: Any) -> None:
    started = getattr(request, "started_at", None)
    log_kwargs["path"] = request.path
    if started is not None:
        log_kwargs["duration_ms"] = round((time.monotonic() - started) * 1000, 1)


# --- NUL bytes ----------------------------------------------------------------------

NUL = "\x00"
NUL_MESSAGE = "Null characters are not allowed."


def nul_byte_fields(request: HttpRequest) -> dict[str, list[str]]:
    """Where a NUL character hides in the request line or headers: PostgreSQL cannot store
    one in a text column, so it must be refused before any query sees it. Bodies are
    checked by DRF's CharField (ProhibitNullCharactersValidator) and apps.core.parsers."""
    fields: dict[str, list[str]] = {}
    if NUL in request.path_info:
        fields["path"] = [NUL_MESSAGE]
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            fields[name.replace(NUL, "\\0")] = [NUL_MESSAGE]
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and NUL in value:
            fields["header:" + key[5:].replace("_", "-").title()] = [NUL_MESSAGE]
    return fields


class RejectNulBytesMiddleware(RequestHookMiddleware):
    """400 `invalid_input` naming the query parameter, path or header that holds a NUL
    character (a 500 from PostgreSQL otherwise). Runs right after RequestIdMiddleware."""

    def before(self, request: HttpRequest) -> HttpResponseBase | None:
        fields = nul_byte_fields(request)
        if not fields:
            return None
        from apps.core.errors import ApiError
        from apps.core.views import is_api_request, json_error

        if is_api_request(request):
            return json_error(ApiError(400, "invalid_input", "The request contains a null character.", fields))
        return HttpResponseBadRequest("The request contains a null character.", content_type="text/plain")
