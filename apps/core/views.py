"""Core pages and endpoints: home, health, and the error views (JSON under /api/)."""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.crypto import constant_time_compare
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from apps.core import health
from apps.core.errors import SERVER_ERROR_MESSAGE, ApiError, error_for_exception, is_pool_timeout
from apps.core.home import capabilities_for
from apps.core.metrics import api_error_count


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_error(error: ApiError) -> JsonResponse:
    api_error_count(code=error.code)
    response = JsonResponse(error.body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


# --- pages --------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"capabilities": capabilities_for(request.user)})


# --- health and metrics: details for staff or loopback only ----------------------------


def from_loopback(request: HttpRequest) -> bool:
    """A request from this machine. Behind a proxy every request arrives from the proxy (and
    daphne's --proxy-headers fills REMOTE_ADDR from X-Forwarded-For), so none counts."""
    if settings.BEHIND_PROXY:
        return False
    # REMOTE_ADDR is the peer address here; the lead connects this to apps.core.ratelimits' client address.
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def may_see_health_details(request: HttpRequest) -> bool:
    if from_loopback(request):
        return True
    try:  # the session lives in the database, which may be the thing that is down
        user = request.user
        return bool(user.is_authenticated and user.is_active and user.is_staff)
    except Exception:
        return False


def health_body(results: dict[str, health.CheckResult], *, details: bool) -> dict[str, Any]:
    """Anonymous callers learn each check's status; details (latency, errors that name hosts
    and users, pool figures) are for staff and loopback."""
    return {name: result.as_dict() if details else {"status": result.status} for name, result in results.items()}


@never_cache
@require_GET
def health_status(request: HttpRequest) -> JsonResponse:
    results = health.run_checks()
    body: dict[str, Any] = {"status": health.overall_status(results)}
    details = may_see_health_details(request)
    if details:
        body["version"] = settings.VERSION
    body["checks"] = health_body(results, details=details)
    return JsonResponse(body)


@never_cache
@require_GET
def health_live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health_ready(request: HttpRequest) -> JsonResponse:
    results = health.run_checks(ready_only=True)
    failing = sorted(name for name, r in results.items() if r.status != health.OK)
    body: dict[str, Any] = {
        "status": "ready" if not failing else "not_ready",
        "checks": health_body(results, details=may_see_health_details(request)),
    }
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if not failing else 503)


def bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text (django-prometheus' exporter) for loopback or THEO_METRICS_TOKEN."""
    expected = settings.METRICS_TOKEN
    presented = bearer_token(request)
    if not from_loopback(request) and not (expected and presented and constant_time_compare(presented, expected)):
        if not expected:
            return json_error(
                ApiError(
                    403,
                    "permission_denied",
                    "Metrics are served to this machine only. Set THEO_METRICS_TOKEN to scrape them from elsewhere.",
                )
            )
        return json_error(
            ApiError(
                401,
                "not_authenticated",
                "Send the metrics token as `Authorization: Bearer <THEO_METRICS_TOKEN>`.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        )
    return ExportToDjangoView(request)


# --- errors -------------------------------------------------------------------------


@csrf_exempt  # writes nothing; a POST to a mistyped path deserves the 404 and its hint
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Catch-all under /api/: unknown API paths answer JSON, never Django's HTML page."""
    details = {"path": request.path}
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
            if match.func is not api_not_found:
                details["hint"] = f"Did you mean {request.path}/ ? API paths end with a slash."
        except Resolver404:
            pass
    return json_error(ApiError(404, "not_found", "No API endpoint at this path.", details))


def bad_request(request: HttpRequest, exception: Exception, template_name: str = "400.html") -> HttpResponse:
    if is_api_request(request):
        return json_error(ApiError(400, "bad_request", "The request could not be understood."))
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception, template_name: str = "403.html") -> HttpResponse:
    if is_api_request(request):
        return json_error(ApiError(403, "permission_denied", "You do not have permission to do this."))
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception, template_name: str = "404.html") -> HttpResponse:
    if is_api_request(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    # Django calls this inside its `except` block, so the exception is at hand.
    exception = sys.exc_info()[1]
    if exception is not None and is_pool_timeout(exception):
        error = error_for_exception(exception)
        if is_api_request(request):
            return json_error(error)
        return HttpResponse(
            error.message, status=error.status, content_type="text/plain; charset=utf-8", headers=error.headers
        )
    if is_api_request(request):
        return json_error(ApiError(500, "server_error", SERVER_ERROR_MESSAGE))
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if is_api_request(request):
        return json_error(
            ApiError(403, "csrf_failed", "CSRF check failed. Send the csrftoken cookie value as X-CSRFToken.")
        )
    return django_csrf_failure(request, reason=reason)
