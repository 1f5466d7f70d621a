"""A real daphne under concurrent API load keeps its PostgreSQL connections within its pool.

Under ASGI each request runs in a thread of its own; with persistent connections
(CONN_MAX_AGE > 0) every such thread kept a connection until PostgreSQL's
max_connections were gone ("sorry, too many clients already" -> 500). With the psycopg
pool a process never holds more than THEO_DB_POOL_MAX_SIZE connections, and a request
that finds them all busy for THEO_DB_POOL_TIMEOUT seconds gets a 503, never a 500.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests.helpers import bearer
from tests.integration.conftest import db_url_for_subprocess, free_port, log_tail, stop_process, subprocess_env
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

POOL_MAX = 4
CLIENTS = 24  # six times the pool: without a pool each concurrent request thread held its own connection
LOAD_SECONDS = 6.0


def connections_named(application_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [application_name])
        return cursor.fetchone()[0]


def start_daphne(tmp_path: Path, application_name: str, **extra_env: str) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = subprocess_env(
        # application_name marks this server's connections in pg_stat_activity.
        DATABASE_URL=f"{db_url_for_subprocess()}&application_name={application_name}",
        THEO_LOG_LEVEL="ERROR",
        **extra_env,
    )
    log_path = tmp_path / f"{application_name}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "theo.asgi:application"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 40
    while True:
        assert process.poll() is None, f"daphne exited early:\n{log_tail(log_path)}"
        assert time.monotonic() < deadline, f"daphne did not answer within 40 s:\n{log_tail(log_path)}"
        try:
            with urllib.request.urlopen(f"{base}/health/live", timeout=2):
                break
        except OSError:
            time.sleep(0.3)
    return process, base, log_path


@pytest.fixture
def pooled_daphne(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    name = f"theo-pool-test-{os.getpid()}"
    process, base, log_path = start_daphne(
        tmp_path, name, THEO_DB_POOL_MIN_SIZE="1", THEO_DB_POOL_MAX_SIZE=str(POOL_MAX), THEO_DB_POOL_TIMEOUT="10"
    )
    try:
        yield base, name, log_path
    finally:
        stop_process(process)


def get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_concurrent_api_clients_stay_within_the_pool_and_get_no_5xx(pooled_daphne):
    base, name, log_path = pooled_daphne
    users = [UserFactory() for _ in range(4)]
    headers = [{"Authorization": bearer(user)["HTTP_AUTHORIZATION"]} for user in users]
    statuses: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + LOAD_SECONDS

    def client(index: int) -> None:
        paths = ["/api/v1/documents/", "/api/v1/auth/me/", "/api/v1/chat/conversations/"]
        n = 0
        while time.monotonic() < stop_at and n < 10_000:
            status, body = get(f"{base}{paths[n % len(paths)]}", headers[index % len(headers)])
            n += 1
            with lock:
                statuses.append(status)
                if status >= 500:
                    failures.append(body.decode(errors="replace")[:300])

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    most = 0
    while any(thread.is_alive() for thread in threads):
        most = max(most, connections_named(name))
        time.sleep(0.05)
    for thread in threads:
        thread.join()

    assert len(statuses) > CLIENTS, statuses
    assert not failures, f"{len(failures)} of {len(statuses)} requests got 5xx, e.g. {failures[0]}"
    assert set(statuses) == {200}, sorted(set(statuses))
    assert most <= POOL_MAX, f"daphne held {most} PostgreSQL connections; its pool allows {POOL_MAX}"
    assert connections_named(name) <= POOL_MAX
    assert "Traceback" not in log_tail(log_path)


def test_health_and_metrics_report_the_pool_of_the_serving_process(pooled_daphne):
    base, _, _ = pooled_daphne
    status, body = get(f"{base}/health", {})  # loopback: details
    assert status == 200, body
    pool = json.loads(body)["checks"]["database"]["pool"]
    assert pool["max"] == POOL_MAX
    assert 0 <= pool["in_use"] <= pool["size"] <= POOL_MAX

    status, body = get(f"{base}/metrics", {})
    assert status == 200
    text = body.decode()
    assert f'theo_db_pool_connections{{state="max"}} {float(POOL_MAX)}' in text
    assert 'theo_db_pool_connections{state="in_use"}' in text


# --- every pooled connection busy: 503, never a 500 ------------------------------------------


@pytest.fixture
def exhausted_pool(monkeypatch) -> Iterator[None]:
    """This process's pool with every connection checked out and a short wait for one."""
    from psycopg_pool import PoolTimeout

    connection.ensure_connection()
    pool = connection.pool  # type: ignore[attr-defined]  # the psycopg backend's pool: not in stubs
    assert pool is not None, "settings must configure the psycopg pool"
    monkeypatch.setattr(pool, "timeout", 0.5)
    held: list[Any] = []
    try:
        while len(held) < pool.max_size:
            held.append(pool.getconn(timeout=0.5))
    except PoolTimeout:
        pass
    try:
        yield
    finally:
        for conn in held:
            pool.putconn(conn)


def in_another_thread(fn):
    """Run fn where this test's own connection is not available (a request thread)."""
    from django.db import connections

    result: list = []

    def run() -> None:
        try:
            result.append(fn())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return result[0]


def test_api_request_answers_503_database_busy_when_the_pool_is_exhausted(exhausted_pool):
    from rest_framework.test import APIClient

    from tests.helpers import assert_error

    client = APIClient()
    client.credentials(**bearer(UserFactory()))
    response = in_another_thread(lambda: client.get("/api/v1/auth/me/"))
    error = assert_error(response, 503, "database_busy")
    assert response["Retry-After"] == "5"
    assert error["details"] == {"retry_after": 5}


def test_page_answers_503_not_a_500_page_when_the_pool_is_exhausted(exhausted_pool):
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(UserFactory())
    response = in_another_thread(lambda: client.get("/documents/"))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"database connection" in response.content


def test_the_test_processs_pool_points_at_the_test_database():
    """pytest-django renames the database after Django made no pool yet; the pool, made on
    the first query, must connect to test_<name>, never to the developer's database."""
    connection.ensure_connection()
    assert connection.settings_dict["NAME"].startswith("test_")
    assert connection.pool.kwargs["dbname"] == connection.settings_dict["NAME"]  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone()[0] == connection.settings_dict["NAME"]
