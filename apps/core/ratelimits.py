"""Rate limits on the shared Redis cache (django-ratelimit), for any transport.

`enforce_rate_limit(scope=..., key=...)` raises RateLimited (429, Retry-After) once the
rate in settings.RATE_LIMITS[scope] is used up; its message may say `{count}` and
`{period}`, filled from that rate ("10/m": 10, "this minute"), so it never goes stale.
The key is any string: "ip:<address>", "user:<id>", "account:<e-mail>". Addresses come
from apps.core.proxies.client_address (the client's real address behind trusted proxies),
grouped by address_group.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time
from types import SimpleNamespace

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from apps.core.errors import RateLimited
from apps.core.proxies import client_address, parse_address

__all__ = [
    "address_group",
    "client_address",
    "enforce_rate_limit",
    "failure_forget",
    "failure_record",
    "failures_clear",
    "failures_get",
    "parse_rate",
    "rate_message",
    "ratelimit_ip",
    "request_address",
]


def address_group(address: str) -> str:
    """The key an address counts under: IPv6 grouped by /64 (one host usually holds the
    whole /64), IPv4 as is; "unknown" when there is no address (never raises)."""
    parsed = parse_address(address)
    if parsed is None:
        return "unknown"
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address)
    return str(parsed)


def request_address(request: HttpRequest) -> str:
    """The client's real address (apps.core.proxies.client_address), for the audit trail."""
    return client_address(request)


def ratelimit_ip(request: HttpRequest) -> str:
    """settings.RATELIMIT_IP_META_KEY: django-ratelimit's own "ip" key, never empty."""
    return client_address(request) or "0.0.0.0"


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
        raise RateLimited(rate_message(message, rate or settings.RATE_LIMITS[scope]), retry_after=usage["time_left"])


_PERIOD_WORDS = {1: "this second", 60: "this minute", 3600: "this hour", 86400: "today"}
_UNIT_WORDS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def rate_message(message: str | None, rate: str) -> str | None:
    """`message` with {count} and {period} from `rate`: "You have sent {count} messages
    {period}" and "10/m" say "You have sent 10 messages this minute". None (RateLimited's
    own message) when there is no message, or the rate is not one parse_rate reads."""
    if not message:
        return None
    try:
        count, seconds = parse_rate(rate)
    except ValueError:
        return None
    return message.format(count=count, period=_period_words(seconds))


def _period_words(seconds: int) -> str:
    if seconds in _PERIOD_WORDS:
        return _PERIOD_WORDS[seconds]
    unit, name = next((unit, name) for unit, name in _UNIT_WORDS if seconds % unit == 0)
    return f"in {seconds // unit} {name}s"


# --- failure counters: count only what went wrong (sign-in) --------------------------

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "5/m", "20/h", "50/6h" -> (count, seconds); ValueError for anything else."""
    match = _RATE.match(rate or "")
    if not match or int(match[1]) < 1:
        raise ValueError(f"{rate!r} is not a rate like 5/m, 20/h or 50/6h")
    return int(match[1]), int(match[2] or 1) * _PERIOD_SECONDS[match[3]]


def _failure_key(scope: str, key: str, period: int) -> tuple[str, int]:
    now = int(time.time())
    start = now - now % period
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"theo:failures:{scope}:{period}:{start}:{digest}", start + period - now


def failures_get(*, scope: str, key: str, rate: str) -> tuple[int, int]:
    """(failures in the current window, seconds until it ends)."""
    _, period = parse_rate(rate)
    cache_key, seconds_left = _failure_key(scope, key, period)
    return int(cache.get(cache_key) or 0), max(1, seconds_left)


def failure_record(*, scope: str, key: str, rate: str) -> int:
    """Count one failure (atomic INCR on the shared cache); returns the new count."""
    _, period = parse_rate(rate)
    cache_key, _ = _failure_key(scope, key, period)
    cache.add(cache_key, 0, timeout=period + 5)
    try:
        return int(cache.incr(cache_key))
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=period + 5)
        return 1


def failures_clear(*, scope: str, key: str, rate: str) -> None:
    _, period = parse_rate(rate)
    cache.delete(_failure_key(scope, key, period)[0])


def failure_forget(*, scope: str, key: str, rate: str) -> None:
    """Take back one failure counted up front (the attempt turned out right or was refused)."""
    _, period = parse_rate(rate)
    cache_key, _ = _failure_key(scope, key, period)
    try:
        if int(cache.decr(cache_key)) < 0:
            cache.set(cache_key, 0, timeout=period + 5)
    except ValueError:  # the window ended meanwhile: nothing to take back
        pass
