"""Core pages and endpoints: home, health, and the error views (JSON under /api/)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from apps.core import health
from apps.core.errors import SERVER_ERROR_MESSAGE, ApiError
from apps.core.home import capabilities_for


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_error(error: ApiError) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


# --- pages --------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"capabilities": capabilities_for(request.user)})


# --- health -------------------------------------------------------------------------


@never_cache
@require_GET
def health_status(request: HttpRequest) -> JsonResponse:
    results = health.run_checks()
    return JsonResponse(
        {
            "status": health.overall_status(results),
            "version": settings.VERSION,
            "checks": {name: result.as_dict() for name, result in results.items()},
        }
    )


@never_cache
@require_GET
def health_live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health_ready(request: HttpRequest) -> JsonResponse:
    results = health.run_checks(ready_only=True)
    failing = {name: r.as_dict() for name, r in results.items() if r.status != health.OK}
    body: dict[str, Any] = {
        "status": "ready" if not failing else "not_ready",
        "checks": {name: result.as_dict() for name, result in results.items()},
    }
    if failing:
        body["failing"] = sorted(failing)
    return JsonResponse(body, status=200 if not failing else 503)


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
    if is_api_request(request):
        return json_error(ApiError(500, "server_error", SERVER_ERROR_MESSAGE))
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if is_api_request(request):
        return json_error(
            ApiError(403, "csrf_failed", "CSRF check failed. Send the csrftoken cookie value as X-CSRFToken.")
        )
    return django_csrf_failure(request, reason=reason)
