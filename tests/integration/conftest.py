"""Integration fixtures: real processes (a Celery worker, a daphne server) against the
pytest database.

They inherit this environment, PYTEST_VERSION included, so they use the test Redis
databases (8-10) — the same channel layer and cache as this process, so a service called
here (a suspension, an unshare) reaches the server's sockets — and DATABASE_URL points
them at the pytest database instead of `theo`. Rows they should see must be committed:
tests that talk to them use `django_db(transaction=True)`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

WORKER_START_SECONDS = 30
SERVER_START_SECONDS = 60


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


@contextmanager
def running_worker(
    log_path: Path, *, name: str, pool: str = "solo", level: str = "warning", **env: str
) -> Iterator[subprocess.Popen]:
    """A real Celery worker (`pool`, one process) consuming the test broker, started and
    answering a ping before this yields; stopped after."""
    from theo.celery import app

    node = f"{name}-{os.getpid()}@{socket.gethostname()}"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "theo",
                "worker",
                f"--pool={pool}",
                "--queues",
                settings.WORKER_QUEUES,
                "-c",
                "1",
                "-l",
                level,
                "-n",
                f"{name}-{os.getpid()}@%h",
                "--without-mingle",
                "--without-gossip",
                "--purge",  # drop tasks queued by earlier tests that had no worker
            ],
            cwd=settings.BASE_DIR,
            env=subprocess_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + WORKER_START_SECONDS
        while not app.control.ping(timeout=1, destination=[node]):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The Celery worker did not start.\n{log_tail(log_path)}")
        yield process
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """A real Celery worker (solo pool) consuming the test broker; yields its node name."""
    with running_worker(tmp_path_factory.mktemp("worker") / "worker.log", name="test"):
        yield f"test-{os.getpid()}@{socket.gethostname()}"


# --- a live server -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveServer:
    """A server process listening on `url` (http://127.0.0.1:<port>); `ws_url` is the same
    with ws://, `origin` the Origin header its WebSocket origin check accepts."""

    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    @property
    def origin(self) -> str:
        return self.url

    def log(self) -> str:
        return log_tail(self.log_path)


def wait_until_serving(server: LiveServer, path: str = "/health/live", timeout: float = SERVER_START_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"The server exited early:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + path, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise RuntimeError(f"The server did not answer {path} within {timeout} s:\n{server.log()}")
        time.sleep(0.3)


@contextmanager
def running_daphne(log_dir: Path, **env: str) -> Iterator[LiveServer]:
    """daphne serving theo.asgi (HTTP, SSE and WebSockets, as `manage.py run` starts it,
    without the worker and beat) on a free port, with `env` on top of subprocess_env().
    `manage.py run` (tests/integration/test_worker_and_run.py) can stand in where a worker
    is needed too: a fixture wrapping it can yield the same LiveServer."""
    port = free_port()
    log_path = log_dir / f"daphne-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "theo.asgi:application"],
            cwd=settings.BASE_DIR,
            env=subprocess_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        wait_until_serving(server)
        yield server
    finally:
        stop_process(process)


# Limits the live server runs with, small enough for tests to reach.
LIVE_EVENTS_SOCKETS_PER_USER = 3
LIVE_PROGRESS_STALL_SECONDS = 4


@pytest.fixture(scope="module")
def live_claude() -> Iterator[Any]:
    """A fake Anthropic API (tests/chat/fake_claude.py) for the live server's chat."""
    from tests.chat.fake_claude import FakeClaude

    with FakeClaude() as fake:
        yield fake


@pytest.fixture(scope="module")
def daphne_server(django_db_setup: Any, tmp_path_factory: Any, live_claude: Any) -> Iterator[LiveServer]:
    """One real daphne for a test module: chat answers come from `live_claude`; /ws/events/
    allows LIVE_EVENTS_SOCKETS_PER_USER sockets per user; a progress stream of a document
    that does not move ends after LIVE_PROGRESS_STALL_SECONDS."""
    with running_daphne(
        tmp_path_factory.mktemp("daphne"),
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=live_claude.base_url,
        THEO_CLAUDE_MAX_RETRIES="0",
        THEO_EVENTS_SOCKETS_PER_USER=str(LIVE_EVENTS_SOCKETS_PER_USER),
        THEO_PROGRESS_STALL_SECONDS=str(LIVE_PROGRESS_STALL_SECONDS),
    ) as server:
        yield server
