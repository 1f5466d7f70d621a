"""A live Theo (`manage.py run --no-worker --no-beat`: daphne) on the pytest database.

`live_theo` (module scope) starts it on a free port and yields its base URL. It keeps
PYTEST_VERSION in its environment, so it reads and writes the same test Redis databases
(cache, rate-limit counters) as the tests; rows it should see must be committed
(`django_db(transaction=True)`). Extra environment for the server: `start_theo(env=...)`.

(A sibling of the live-daphne fixture for WebSocket tests in conftest.py; to be folded
together.)
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tests.integration.conftest import log_tail, stop_process, subprocess_env

START_SECONDS = 60
LOGS: dict[str, Path] = {}  # base URL -> the server's log


def server_log_tail(base: str, chars: int = 6000) -> str:
    return log_tail(LOGS[base], chars) if base in LOGS else ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def start_theo(log_path: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`manage.py run` without worker and beat; yields http://127.0.0.1:<port>."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = subprocess_env(
        THEO_LOG_LEVEL="WARNING",
        THEO_BIBLE_AUTOLOAD="false",
        **(env or {}),
    )
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run", "--port", str(port), "--no-worker", "--no-beat"],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _answers(f"{base}/health/live"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`manage.py run` did not start:\n{log_tail(log_path)}")
            time.sleep(0.3)
        LOGS[base] = log_path
        yield base
    finally:
        stop_process(process, timeout=30)


@pytest.fixture(scope="module")
def live_theo(django_db_setup, tmp_path_factory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("live-theo") / "run.log"
    with start_theo(log_path) as base:
        yield base
