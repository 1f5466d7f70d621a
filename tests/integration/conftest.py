"""Integration fixtures: real processes (a Celery worker) against the pytest database.

The worker inherits this environment, PYTEST_VERSION included, so it uses the test Redis
databases (8-10); DATABASE_URL points it at the pytest database instead of `theo`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

WORKER_START_SECONDS = 30


def db_url_for_subprocess() -> str:
    """A DATABASE_URL for the database this pytest session uses (test_theo)."""
    db = connection.settings_dict
    host = db.get("HOST") or db.get("OPTIONS", {}).get("host", "")
    return f"postgres://{db['USER'] or 'postgres'}@/{db['NAME']}?host={host}"


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTEST_CURRENT_TEST", None)
    env.update(
        DJANGO_SETTINGS_MODULE="theo.settings",
        PYTHONUNBUFFERED="1",
        DATABASE_URL=db_url_for_subprocess(),
        REDIS_URL=settings.REDIS_URL,
        # DATABASE_URL set means "deployment": keys must be given (the same ones as here).
        SECRET_KEY=settings.SECRET_KEY,
        THEO_JWT_SIGNING_KEY=settings.SIMPLE_JWT["SIGNING_KEY"],
        THEO_DOCUMENTS_DIR=str(settings.DOCUMENTS_DIR),
    )
    env.update(extra)
    return env


def log_tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """A real Celery worker (solo pool) consuming the test broker; yields its node name."""
    from theo.celery import app

    node = f"test-{os.getpid()}@{socket.gethostname()}"
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "theo",
                "worker",
                "--pool=solo",
                "--queues",
                settings.WORKER_QUEUES,
                "-c",
                "1",
                "-l",
                "warning",
                "-n",
                f"test-{os.getpid()}@%h",
                "--without-mingle",
                "--without-gossip",
                "--purge",  # drop tasks queued by earlier tests that had no worker
            ],
            cwd=settings.BASE_DIR,
            env=subprocess_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + WORKER_START_SECONDS
        while not app.control.ping(timeout=1, destination=[node]):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The Celery worker did not start.\n{log_tail(log_path)}")
        yield node
    finally:
        stop_process(process)
