"""System checks: refuse to start outside DEBUG with an empty or default secret."""

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


def refuse_to_start_with_weak_secrets() -> None:
    """Called by the daphne and Celery entry points, which run no system checks themselves."""
    from django.core.exceptions import ImproperlyConfigured

    errors = check_secrets()
    if errors:
        raise ImproperlyConfigured("; ".join(f"{e.id}: {e.msg} {e.hint}" for e in errors))
