"""Real processes: a Celery worker executing Theo's tasks, and `manage.py run` starting,
serving and stopping everything on Ctrl-C."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from email.message import Message

import psutil
import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from apps.users.models import User
from tests.integration.conftest import free_port, log_tail, stop_process, subprocess_env
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def outstanding_token(user: User, *, expires_in: timedelta) -> OutstandingToken:
    now = timezone.now()
    return OutstandingToken.objects.create(
        user=user,
        jti=secrets.token_hex(16),
        token="not-a-real-token",
        created_at=now - timedelta(days=8),
        expires_at=now + expires_in,
    )


# --- the Celery worker --------------------------------------------------------------


def test_ready_while_a_worker_runs(client, celery_worker):
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", "redis", "celery", "embedding_model"}
    assert all(check["status"] == "ok" for check in body["checks"].values()), body


def test_worker_runs_the_token_flush_task(celery_worker):
    from apps.users.tasks import flush_expired_tokens_task

    user = UserFactory()
    expired = outstanding_token(user, expires_in=-timedelta(hours=1))
    valid = outstanding_token(user, expires_in=timedelta(days=1))

    flush_expired_tokens_task.delay()

    deadline = time.monotonic() + 20
    while OutstandingToken.objects.filter(pk=expired.pk).exists():
        assert time.monotonic() < deadline, "the worker did not flush the expired token within 20 s"
        time.sleep(0.2)
    assert OutstandingToken.objects.filter(pk=valid.pk).exists()


# --- manage.py run ------------------------------------------------------------------


def http(url: str, data: dict | None = None, timeout: float = 5) -> tuple[int, Message, bytes]:
    """(status, headers, body); headers are looked up case-insensitively."""
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_serves_everything_and_stops_it_all(tmp_path, stop_signal):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    admin_email, admin_password = "boss@example.org", secrets.token_urlsafe(16)
    env = subprocess_env(
        THEO_REDIS_DB="12",  # away from the test databases (8-10) and a developer's `make run` (0-2)
        SECRET_KEY=secrets.token_urlsafe(50)[:50],
        THEO_JWT_SIGNING_KEY=secrets.token_urlsafe(50)[:50],
        THEO_ADMIN_EMAIL=admin_email,
        THEO_ADMIN_PASSWORD=admin_password,
        THEO_LOG_LEVEL="WARNING",
        THEO_BIBLE_AUTOLOAD="false",  # 62k verses in the test database would slow every later test
    )
    env.pop("PYTEST_VERSION", None)  # run as `make run` does, not in test mode
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log:
        run = subprocess.Popen(
            [sys.executable, "manage.py", "run", "--port", str(port), "--no-beat"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert run.poll() is None, f"`manage.py run` exited early:\n{log_tail(log_path)}"
            assert time.monotonic() < deadline, f"/health/ready never answered 200:\n{log_tail(log_path)}"
            try:
                status, _, body = http(f"{base}/health/ready", timeout=5)
            except OSError:  # not listening yet
                status = None
            if status == 200:
                break
            time.sleep(0.5)
        ready = json.loads(body)
        assert ready["status"] == "ready"
        assert ready["checks"]["celery"]["status"] == "ok"

        # The first admin was created from THEO_ADMIN_EMAIL / THEO_ADMIN_PASSWORD.
        status, _, body = http(f"{base}/api/v1/auth/token/", {"email": admin_email, "password": admin_password})
        assert status == 200, body
        assert set(json.loads(body)) == {"access", "refresh"}
        assert User.objects.get(email=admin_email).role == User.Role.ADMIN

        status, headers, body = http(f"{base}/")
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        assert b"<html" in body.lower()
        assert "X-Request-ID" in headers

        children = psutil.Process(run.pid).children(recursive=True)
        names = " ".join(" ".join(child.cmdline()) for child in children)
        assert "daphne" in names and "celery" in names and " beat" not in names

        run.send_signal(stop_signal)
        try:
            code = run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`manage.py run` did not stop within 30 s of {stop_signal.name}:\n{log_tail(log_path)}")
        assert code == 0, log_tail(log_path)
        _, still_alive = psutil.wait_procs(children, timeout=5)
        leftovers = [child for child in still_alive if alive(child)]
        assert not leftovers, [child.cmdline() for child in leftovers]
        assert "Stopping Theo" in log_tail(log_path)
        # It did not start the servers it was given, so it must leave them running.
        assert "Stopped embedded" not in log_tail(log_path)
        assert User.objects.filter(email=admin_email).exists()
        cache.set("still-there", 1)
        assert cache.get("still-there") == 1
    finally:
        if run.poll() is None:
            for child in psutil.Process(run.pid).children(recursive=True):
                child.kill()
            stop_process(run)
