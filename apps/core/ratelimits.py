"""Rate limits on the shared Redis cache (django-ratelimit), for any transport.

`enforce_rate_limit(scope=..., key=...)` raises RateLimited (429, Retry-After) once the
rate in settings.RATE_LIMITS[scope] is used up. The key is any string: "ip:<address>",
"user:<id>", "account:<e-mail>".
"""

from __future__ import annotations

from types import SimpleNamespace

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import _get_ip, get_usage

from apps.core.errors import RateLimited


def client_ip(request: HttpRequest) -> str:
    """Behind a trusted proxy (THEO_BEHIND_PROXY): the first X-Forwarded-For address."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR", "")


def request_address(request: HttpRequest) -> str:
    """The client's full address (the forwarded one behind a trusted proxy)."""
    return client_ip(request) if settings.BEHIND_PROXY else request.META.get("REMOTE_ADDR", "")


def client_address(request: HttpRequest) -> str:
    """The client's address as rate limits see it (IPv6 grouped by /64)."""
    return _get_ip(request)


_NO_REQUEST = SimpleNamespace(method="GET", META={})


def enforce_rate_limit(*, scope: str, key: str, rate: str | None = None, message: str | None = None) -> None:
    """Count one hit for `key` in `scope`; raise RateLimited past the limit."""
    usage = get_usage(
        _NO_REQUEST,
        group=f"theo.{scope}",
        key=lambda _group, _request: key,
        rate=rate or settings.RATE_LIMITS[scope],
        increment=True,
    )
    if usage and usage["should_limit"]:
        raise RateLimited(message, retry_after=max(1, usage["time_left"]))
