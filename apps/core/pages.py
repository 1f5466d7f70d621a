"""Domain errors on HTML pages: the views call selectors and services and let these
helpers turn a `TheoError` into what a page shows (the API has its own handler,
apps.core.errors.api_exception_handler)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.core.errors import NotFound, PermissionDenied, TheoError

DeniedPage = Callable[[HttpRequest, PermissionDenied], HttpResponse]


def forbidden_page(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return render(request, "403.html", {"exception": exc.message}, status=403)


def error_pages(*, denied: DeniedPage = forbidden_page) -> Callable[[Callable[..., HttpResponse]], Any]:
    """A page view that raises NotFound answers the 404 page (status 404); one that raises
    PermissionDenied answers `denied` (the 403 page unless the app has a friendlier one)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except NotFound:
                return render(request, "404.html", status=404)
            except PermissionDenied as exc:
                return denied(request, exc)

        return wrapped

    return decorate


class _Form(Protocol):
    fields: dict[str, Any]

    def add_error(self, field: str | None, error: Any) -> None: ...


def add_form_errors(form: _Form, exc: TheoError) -> None:
    """A service's refusal on the form: each `details` entry on its field (or on the form
    when no field has that name), the message on the form when there are no details."""
    if not exc.details:
        form.add_error(None, exc.message)
    for field, errors in exc.details.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)
