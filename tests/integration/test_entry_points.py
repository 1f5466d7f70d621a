"""The real entry points as subprocesses: daphne (theo.asgi), a Celery worker and
`manage.py run` refuse to start with a weak secret or unreadable proxy settings, saying
what to set; and a running daphne behind a proxy neither believes a spoofed
X-Forwarded-For nor fails on a garbage one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.integration.conftest import log_tail, stop_process, subprocess_env
from tests.users.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.integration

START_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def entry_points(port: int) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "daphne": [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "theo.asgi:application"],
        "celery-worker": [python, "-m", "celery", "-A", "theo", "worker", "--pool=solo", "-l", "warning"],
        "manage-run": [python, "manage.py", "run", "--port", str(port), "--no-beat"],
    }


WEAK = {
    "default SECRET_KEY": ({"SECRET_KEY": "django-insecure-theo-development-key"}, "SECRET_KEY"),
    "short SECRET_KEY": ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    "default JWT key": ({"THEO_JWT_SIGNING_KEY": "change-me"}, "THEO_JWT_SIGNING_KEY"),
    "unreadable proxies": ({"THEO_TRUSTED_PROXIES": "the load balancer"}, "THEO_TRUSTED_PROXIES"),
}


# Every entry point with the default key; every weakness on daphne (the quickest to start);
# the worker also with a setting only the shared refusal (not a system check run) catches.
CASES = [
    *[(entry_point, "default SECRET_KEY") for entry_point in ("daphne", "celery-worker", "manage-run")],
    *[("daphne", weakness) for weakness in WEAK if weakness != "default SECRET_KEY"],
    ("celery-worker", "unreadable proxies"),
    ("manage-run", "default JWT key"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("entry_point", "weakness"), CASES)
def test_entry_points_refuse_to_start_and_say_what_to_set(tmp_path: Path, entry_point: str, weakness: str) -> None:
    overrides, named = WEAK[weakness]
    env = subprocess_env(DEBUG="false", THEO_REDIS_DB="12", THEO_BIBLE_AUTOLOAD="false", **overrides)
    env.pop("PYTEST_VERSION", None)  # as in production
    assert env["DATABASE_URL"]  # a deployment: keys are never generated
    try:
        result = subprocess.run(
            entry_points(free_port())[entry_point],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=START_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{entry_point} started anyway with {weakness}:\n{(exc.stdout or b'')[-3000:]!r}")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert named in output, output[-3000:]
    assert "Set " in output, output[-3000:]  # the hint says what to do


# --- a running daphne behind one proxy ----------------------------------------------


def post(url: str, data: dict, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(data).encode(), headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def daphne_behind_a_proxy(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = subprocess_env(
        THEO_BEHIND_PROXY="true",
        THEO_LOGIN_ADDRESS_RATE="3/h",
        THEO_LOG_LEVEL="WARNING",
        THEO_BIBLE_AUTOLOAD="false",
    )
    log_path = tmp_path / "daphne.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            entry_points(port)["daphne"], cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, f"daphne exited:\n{log_tail(log_path)}"
            assert time.monotonic() < deadline, f"daphne did not answer:\n{log_tail(log_path)}"
            try:
                urllib.request.urlopen(f"{base}/health/live", timeout=2).close()
                break
            except OSError:
                time.sleep(0.3)
        yield base
        assert "Traceback" not in log_tail(log_path, 100_000), log_tail(log_path)
    finally:
        stop_process(process)


@pytest.mark.django_db(transaction=True)
def test_daphne_behind_a_proxy_counts_the_address_the_proxy_saw(daphne_behind_a_proxy: str, settings) -> None:
    token_url = f"{daphne_behind_a_proxy}/api/v1/auth/token/"
    # daphne hashes with the production hasher; tests elsewhere store fast MD5 hashes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user = UserFactory()
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    for garbage in ["x", "", ",,", "[::1", "unknown"]:
        status, body = post(token_url, {"email": user.email, "password": PASSWORD}, {"X-Forwarded-For": garbage})
        assert status == 200, body
    for n in range(3):
        status, _ = post(
            token_url,
            {"email": f"nobody{n}@example.org", "password": "wrong password!"},
            {"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.5"},
        )
        assert status == 401
    # A new leftmost address every time does not help: the proxy saw 203.0.113.5.
    status, body = post(
        token_url, {"email": user.email, "password": PASSWORD}, {"X-Forwarded-For": "198.51.100.99, 203.0.113.5"}
    )
    assert status == 429, body
    # Another client behind the same proxy signs in.
    status, body = post(token_url, {"email": user.email, "password": PASSWORD}, {"X-Forwarded-For": "203.0.113.6"})
    assert status == 200, body
