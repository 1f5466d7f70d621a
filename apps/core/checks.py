"""System checks: refuse to start outside DEBUG with an empty or default secret, and
with proxy or sign-in settings that cannot be read (in DEBUG too)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

WEAK_PREFIXES = ("django-insecure", "change-me", "changeme", "secret")
MIN_SECRET_LENGTH = 32


def _weak(value: str) -> bool:
    return not value or len(value) < MIN_SECRET_LENGTH or value.lower().startswith(WEAK_PREFIXES)


@register(Tags.security)
def check_secrets(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.DEBUG:
        return []
    errors = []
    if _weak(settings.SECRET_KEY):
        errors.append(
            Error(
                "SECRET_KEY is empty, too short or a default value.",
                hint="Set SECRET_KEY to a long random string, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
                id="theo.E001",
            )
        )
    jwt_key = settings.SIMPLE_JWT["SIGNING_KEY"]
    if _weak(jwt_key):
        errors.append(
            Error(
                "THEO_JWT_SIGNING_KEY is empty, too short or a default value.",
                hint="Set THEO_JWT_SIGNING_KEY to a long random string, different from SECRET_KEY.",
                id="theo.E002",
            )
        )
    elif jwt_key == settings.SECRET_KEY:
        errors.append(
            Error(
                "THEO_JWT_SIGNING_KEY must differ from SECRET_KEY.",
                hint="Use a separate random key so that rotating one does not invalidate the other.",
                id="theo.E003",
            )
        )
    return errors


@register(Tags.security)
def check_trusted_proxies(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from apps.core.proxies import InvalidTrustedProxies, parse_trusted_proxies

    value = getattr(settings, "TRUSTED_PROXIES", "")
    if value and not settings.BEHIND_PROXY:
        return [
            Error(
                "THEO_TRUSTED_PROXIES is set but THEO_BEHIND_PROXY is false.",
                hint="Remove THEO_BEHIND_PROXY (THEO_TRUSTED_PROXIES implies it) or unset THEO_TRUSTED_PROXIES.",
                id="theo.E011",
            )
        ]
    try:
        parse_trusted_proxies(value, behind_proxy=settings.BEHIND_PROXY)
    except InvalidTrustedProxies as exc:
        return [
            Error(
                f"THEO_TRUSTED_PROXIES is invalid: {exc}.",
                hint="Set THEO_TRUSTED_PROXIES to the number of reverse proxies in front of Theo (e.g. 1) "
                "or to their comma-separated addresses or CIDR networks (e.g. 10.0.0.0/8,192.0.2.7).",
                id="theo.E010",
            )
        ]
    return []


SIGN_IN_RATES = {
    "login": "THEO_LOGIN_RATE",
    "login_address": "THEO_LOGIN_ADDRESS_RATE",
    "login_account": "THEO_LOGIN_ACCOUNT_RATE",
}


@register(Tags.security)
def check_sign_in_rates(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from apps.core.ratelimits import parse_rate

    errors = []
    for scope, variable in SIGN_IN_RATES.items():
        try:
            parse_rate(settings.RATE_LIMITS.get(scope, ""))
        except ValueError as exc:
            errors.append(
                Error(
                    f"{variable} is invalid: {exc}.", hint=f"Set {variable} to e.g. 5/m, 20/h or 50/6h.", id="theo.E012"
                )
            )
    return errors


def refuse_to_start_with_weak_secrets() -> None:
    """Called by the daphne and Celery entry points, which run no system checks themselves:
    weak secrets, unreadable proxy settings or sign-in rates stop them with what to set."""
    from django.core.exceptions import ImproperlyConfigured

    errors = check_secrets() + check_trusted_proxies() + check_sign_in_rates()
    if errors:
        raise ImproperlyConfigured("; ".join(f"{e.id}: {e.msg} {e.hint}" for e in errors))
