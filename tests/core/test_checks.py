"""The secrets system check (theo.E001-E003) and `manage.py check --deploy` with the
production environment documented for deployment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from apps.core.checks import (
    check_secrets,
    check_sign_in_rates,
    check_trusted_proxies,
    refuse_to_start_with_weak_secrets,
)

STRONG = secrets.token_urlsafe(50)
OTHER_STRONG = secrets.token_urlsafe(50)


@pytest.fixture
def production(settings):
    """DEBUG off with strong, distinct keys; tests then weaken one thing."""
    settings.DEBUG = False
    settings.SECRET_KEY = STRONG
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": OTHER_STRONG}
    return settings


def ids(errors) -> list[str]:
    return [e.id for e in errors]


def test_strong_distinct_keys_pass(production):
    assert check_secrets() == []
    refuse_to_start_with_weak_secrets()  # does not raise


@pytest.mark.parametrize(
    "secret_key",
    [
        "short",
        "x" * 31,
        "django-insecure-theo-development-key",
        "django-insecure-" + secrets.token_urlsafe(40),
        "change-me-" + secrets.token_urlsafe(40),
    ],
)
def test_weak_secret_key_is_theo_e001(production, secret_key):
    production.SECRET_KEY = secret_key
    errors = check_secrets()
    assert ids(errors) == ["theo.E001"]
    assert "SECRET_KEY" in errors[0].msg
    assert "SECRET_KEY" in (errors[0].hint or "")


@pytest.mark.parametrize("jwt_key", ["", "short", "django-insecure-" + secrets.token_urlsafe(40)])
def test_weak_jwt_key_is_theo_e002(production, jwt_key):
    production.SIMPLE_JWT = {**production.SIMPLE_JWT, "SIGNING_KEY": jwt_key}
    errors = check_secrets()
    assert ids(errors) == ["theo.E002"]
    assert "THEO_JWT_SIGNING_KEY" in errors[0].msg


def test_both_weak_gives_both_errors(production):
    production.SECRET_KEY = "django-insecure-theo-development-key"
    production.SIMPLE_JWT = {**production.SIMPLE_JWT, "SIGNING_KEY": "django-insecure-theo-development-key"}
    assert ids(check_secrets()) == ["theo.E001", "theo.E002"]


def test_equal_keys_are_theo_e003(production):
    production.SIMPLE_JWT = {**production.SIMPLE_JWT, "SIGNING_KEY": STRONG}
    errors = check_secrets()
    assert ids(errors) == ["theo.E003"]
    assert "differ" in errors[0].msg


def test_debug_skips_the_check(production):
    production.DEBUG = True
    production.SECRET_KEY = "short"
    production.SIMPLE_JWT = {**production.SIMPLE_JWT, "SIGNING_KEY": "short"}
    assert check_secrets() == []


def test_daphne_and_celery_entry_points_refuse_weak_secrets(production):
    production.SECRET_KEY = "short"
    with pytest.raises(ImproperlyConfigured, match=r"theo\.E001"):
        refuse_to_start_with_weak_secrets()


# --- manage.py check --deploy in a production environment ---------------------------


def deploy_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_VERSION", "PYTEST_CURRENT_TEST")}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        THEO_JWT_SIGNING_KEY=secrets.token_urlsafe(50),
        THEO_HTTPS="true",
        ALLOWED_HOSTS="theo.example.org",
        DATABASE_URL=django_settings.DATABASE_URL,
        REDIS_URL=django_settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="theo.settings",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def manage_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_the_documented_production_environment():
    result = manage_check(deploy_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output


@pytest.mark.parametrize("secret_key", [None, "", "django-insecure-theo-development-key"])
def test_check_deploy_fails_without_a_real_secret_key(secret_key):
    result = manage_check(deploy_env(SECRET_KEY=secret_key))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "theo.E001" in output
    assert "Traceback" not in output


def test_check_deploy_fails_with_the_same_key_twice():
    key = secrets.token_urlsafe(50)
    result = manage_check(deploy_env(SECRET_KEY=key, THEO_JWT_SIGNING_KEY=key))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "theo.E003" in output


# --- proxies and sign-in rates (theo.E010-E012), also under DEBUG -------------------


@pytest.mark.parametrize("value", ["0", "many", "10.0.0.0/33", "10.0.0.1, proxy.example.org"])
def test_invalid_trusted_proxies_is_theo_e010_naming_what_to_set(settings, value):
    settings.BEHIND_PROXY, settings.TRUSTED_PROXIES = True, value
    errors = check_trusted_proxies()
    assert ids(errors) == ["theo.E010"]
    assert "THEO_TRUSTED_PROXIES" in errors[0].msg and "THEO_TRUSTED_PROXIES" in (errors[0].hint or "")


@pytest.mark.parametrize("value", ["", "1", "2", "10.0.0.0/8", "10.0.0.0/8, 192.0.2.7, 2001:db8::/32"])
def test_valid_trusted_proxies_pass(settings, value):
    settings.BEHIND_PROXY, settings.TRUSTED_PROXIES = True, value
    assert check_trusted_proxies() == []


def test_trusted_proxies_with_behind_proxy_false_is_theo_e011(settings):
    settings.BEHIND_PROXY, settings.TRUSTED_PROXIES = False, "1"
    assert ids(check_trusted_proxies()) == ["theo.E011"]


def test_an_unreadable_sign_in_rate_is_theo_e012(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_account": "fifty an hour"}
    errors = check_sign_in_rates()
    assert ids(errors) == ["theo.E012"]
    assert "THEO_LOGIN_ACCOUNT_RATE" in errors[0].msg


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"THEO_TRUSTED_PROXIES": "the load balancer"}, "THEO_TRUSTED_PROXIES"),
        ({"THEO_TRUSTED_PROXIES": "1", "THEO_BEHIND_PROXY": "false"}, "THEO_BEHIND_PROXY"),
        ({"THEO_LOGIN_RATE": "5 per minute"}, "THEO_LOGIN_RATE"),
    ],
)
def test_check_refuses_unreadable_proxy_and_rate_settings(overrides, named):
    result = manage_check(deploy_env(**overrides))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert named in output
    assert "Traceback" not in output
