"""Load: 50 concurrent API clients and 500 open WebSockets for 5 minutes against a Theo that
this bench starts itself on loopback (`manage.py run --no-beat`: daphne and a Celery worker),
while it watches PostgreSQL's pg_stat_activity.

Figures:
- requests, 5xx and failed requests, p50/p95 latency of authenticated API reads
  (documents, me, conversations, knowledge entries, usage: each reads the database);
- a baseline measured in the same run: the same clients against /health/live (daphne,
  Django and the middleware, no database), and the API's latency as a ratio of it;
- WebSockets (/ws/events/, JWT): opened, dropped during the run;
- the most PostgreSQL connections Theo's processes held at once (they are marked with
  application_name) against the configured total, THEO_DB_POOL_MAX_SIZE x processes
  (docs/operations.md). The run passes with 0 5xx and at most that total.

Before the database pool, 40 clients for 90 s got "too many clients already" on two of
three requests. Beat is not started: its schedule would begin loading the Bibles into the
developer's database. Duration and load from the environment (or `python -m bench.load 60`):
THEO_BENCH_LOAD_SECONDS (300), THEO_BENCH_LOAD_CLIENTS (50), THEO_BENCH_LOAD_SOCKETS (500).
The 50 bench users (bench-load-<n>@theo.invalid) live in the developer's database for the
run only; they are deleted at the end, also on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.accounts import EMAIL_DOMAIN, delete_bench_rows
from bench.chat import WebSocket, free_port

SECONDS = float(os.environ.get("THEO_BENCH_LOAD_SECONDS", "300"))
CLIENTS = int(os.environ.get("THEO_BENCH_LOAD_CLIENTS", "50"))
SOCKETS = int(os.environ.get("THEO_BENCH_LOAD_SOCKETS", "500"))
BASELINE_SECONDS = 10.0
REQUEST_TIMEOUT = 30.0
MAX_REQUESTS_PER_CLIENT = 1_000_000  # bounds every loop, far above what a run reaches
START_TIMEOUT = 180.0
APPLICATION_NAME = "theo-bench-load"
EMAIL_PREFIX = "bench-load-"
API_PATHS = [
    "/api/v1/documents/",
    "/api/v1/auth/me/",
    "/api/v1/chat/conversations/",
    "/api/v1/knowledge/entries/",
    "/api/v1/usage/",
]


# --- a minimal keep-alive HTTP/1.1 client (no HTTP library ships here) ------------------------


class HttpConnection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", *(f"{k}: {v}" for k, v in headers.items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed by the server")
        status = int(status_line.split()[1])
        response_headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        if "content-length" in response_headers:
            await self.reader.readexactly(int(response_headers["content-length"]))
        elif response_headers.get("transfer-encoding", "").lower() == "chunked":
            for _ in range(100_000):
                size = int((await self.reader.readline()).strip() or b"0", 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if response_headers.get("connection", "").lower() == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Phase:
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    failures: int = 0  # no answer: connection refused or reset, timeout
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + self.failures

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


async def run_clients(port: int, paths_of: list[list[str]], headers_of: list[dict[str, str]], seconds: float) -> Phase:
    phase = Phase()
    stop_at = time.monotonic() + seconds

    async def client(index: int) -> None:
        connection = HttpConnection(port)
        paths = paths_of[index % len(paths_of)]
        for n in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= stop_at:
                break
            started = time.monotonic()
            try:
                status = await asyncio.wait_for(
                    connection.get(paths[n % len(paths)], headers_of[index % len(headers_of)]), REQUEST_TIMEOUT
                )
            except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError):
                phase.failures += 1
                connection.close()
                await asyncio.sleep(0.1)
                continue
            phase.latencies.append(time.monotonic() - started)
            phase.statuses[status] = phase.statuses.get(status, 0) + 1
        connection.close()

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    phase.seconds = time.monotonic() - started
    return phase


@dataclass
class Sockets:
    opened: int = 0
    refused: int = 0
    dropped: int = 0  # closed by the server (or lost) before the end of the run
    reasons: Counter[str] = field(default_factory=Counter)
    ramp_seconds: float = 0.0
    ramped: asyncio.Event = field(default_factory=asyncio.Event)


async def hold_sockets(port: int, tokens: list[str], until: asyncio.Event, result: Sockets) -> None:
    """Open SOCKETS event sockets (50 handshakes at a time), keep them open until `until`."""
    gate = asyncio.Semaphore(50)
    opened: list[WebSocket] = []

    started = time.monotonic()
    attempts = 0

    def attempted() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == SOCKETS:
            result.ramp_seconds = time.monotonic() - started
            result.ramped.set()

    async def one(index: int) -> None:
        async with gate:
            try:
                socket_ = await asyncio.wait_for(
                    WebSocket.connect(port, f"/ws/events/?token={tokens[index % len(tokens)]}"), REQUEST_TIMEOUT
                )
                _, hello = await asyncio.wait_for(socket_.receive(), REQUEST_TIMEOUT)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError) as error:
                result.refused += 1
                result.reasons[f"{type(error).__name__}: {error}"[:120]] += 1
                attempted()
                return
        attempted()
        if hello is None or '"hello"' not in hello:
            result.refused += 1
            result.reasons[f"first message {hello!r}"[:120]] += 1
            return
        result.opened += 1
        opened.append(socket_)
        reader = asyncio.ensure_future(socket_.receive())
        waiter = asyncio.ensure_future(until.wait())
        for _ in range(1_000_000):  # events other than a close are fine; stop at the end or a close
            done, _ = await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if waiter in done:
                break
            try:
                _, message = reader.result()
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                message = None
            if message is None:
                result.dropped += 1
                break
            reader = asyncio.ensure_future(socket_.receive())
        reader.cancel()
        waiter.cancel()

    await asyncio.gather(*(one(i) for i in range(SOCKETS)))
    for socket_ in opened:
        socket_.close()
        socket_.writer.close()


# --- PostgreSQL connections of Theo's processes ------------------------------------------------


def connect_outside_the_pool() -> Any:
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    keep = ("dbname", "user", "password", "host", "port")
    return psycopg.connect(**{k: v for k, v in params.items() if k in keep and v}, autocommit=True)


class ConnectionWatch(threading.Thread):
    """Samples pg_stat_activity every 0.25 s on a connection of its own (outside any pool)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.most = 0
        self.most_on_server = 0
        self.samples = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        with connect_outside_the_pool() as db:
            for _ in range(10_000_000):
                if self.stopping.is_set():
                    break
                count, total = db.execute(
                    "SELECT count(*) FILTER (WHERE application_name = %s), count(*) FILTER "
                    "(WHERE backend_type = 'client backend') FROM pg_stat_activity",
                    [APPLICATION_NAME],
                ).fetchone()
                self.most, self.most_on_server = max(self.most, count), max(self.most_on_server, total)
                self.samples += 1
                self.stopping.wait(0.25)

    @staticmethod
    def current() -> int:
        with connect_outside_the_pool() as db:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            return db.execute(query, [APPLICATION_NAME]).fetchone()[0]


# --- the server ---------------------------------------------------------------------------------


def database_url() -> str:
    """The developer's database, with Theo's connections marked for pg_stat_activity."""
    from django.db import connection

    db = connection.settings_dict
    host = db.get("HOST") or db.get("OPTIONS", {}).get("host", "")
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    if host.startswith("/"):
        return f"postgres://{db['USER']}{password}@/{db['NAME']}?host={host}&application_name={APPLICATION_NAME}"
    return f"postgres://{db['USER']}{password}@{host}{port}/{db['NAME']}?application_name={APPLICATION_NAME}"


def start_theo(port: int, log: Path) -> subprocess.Popen:
    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "theo.settings"),
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "THEO_REDIS_DB": "13",  # its own broker, cache and channel layer: not a running `make run`'s
        # DATABASE_URL set means "deployment": keys must be given (the same ones as here).
        "SECRET_KEY": settings.SECRET_KEY,
        "THEO_JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"],
        "THEO_BIBLE_AUTOLOAD": "false",
        "THEO_LOG_LEVEL": "WARNING",
        "THEO_CHAT_SOCKETS_TOTAL": str(SOCKETS * 4),
    }
    argv = [sys.executable, "manage.py", "run", "--host", "127.0.0.1", "--port", str(port), "--no-beat"]
    with open(log, "wb") as out:
        return subprocess.Popen(argv, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(process: subprocess.Popen, port: int, log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`manage.py run` exited with {process.returncode}:\n{log_tail(log)}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2):
            return
        time.sleep(0.5)
    raise RuntimeError(f"`manage.py run` did not answer in {START_TIMEOUT:.0f} s:\n{log_tail(log)}")


def stop_theo(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_log() -> Path:
    """The server's output, kept after the run (THEO_DATA_DIR/bench/load-server.log)."""
    from django.conf import settings

    directory = settings.DATA_DIR / "bench"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / "load-server.log"


def log_tail(log: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return ""


# --- bench users --------------------------------------------------------------------------------


def create_tokens(count: int) -> list[str]:
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.users.models import User

    users = [
        User.objects.create_user(
            f"{EMAIL_PREFIX}{n}{EMAIL_DOMAIN}",
            None,
            display_name=f"Load bench {n}",
            role=User.Role.USER,
            status=User.Status.APPROVED,
        )
        for n in range(count)
    ]
    return [str(AccessToken.for_user(user)) for user in users]


# --- the run ------------------------------------------------------------------------------------


def configured_total() -> tuple[int, int, int]:
    """(total, pool max per process, processes): daphne + the worker's main process + its
    prefork children, as docs/operations.md counts them (beat is not started here)."""
    from django.conf import settings

    processes = 1 + 1 + settings.WORKER_CONCURRENCY
    return settings.DB_POOL_MAX_SIZE * processes, settings.DB_POOL_MAX_SIZE, processes


async def measure(port: int, tokens: list[str], log: Path) -> tuple[Phase, Phase, Sockets, int]:
    """The baseline, then the sockets opened (and held), then the API load on top of them,
    then the baseline again.
    Also returns the tracebacks the server logged up to the end of the load (before the
    sockets close)."""
    headers = [{"Authorization": f"Bearer {token}"} for token in tokens]
    # Warm-up, not counted: every code path once.
    await run_clients(port, [API_PATHS], headers, 2.0)
    baseline = await run_clients(port, [["/health/live"]], [{}], min(BASELINE_SECONDS, max(2.0, SECONDS / 6)))
    sockets = Sockets()
    end = asyncio.Event()
    holder = asyncio.ensure_future(hold_sockets(port, tokens, end, sockets))
    await sockets.ramped.wait()
    # Each client starts its round of paths at a different place.
    rotations = [API_PATHS[i % len(API_PATHS) :] + API_PATHS[: i % len(API_PATHS)] for i in range(len(API_PATHS))]
    api = await run_clients(port, rotations, headers, SECONDS)
    tracebacks = log.read_text(errors="replace").count("Traceback")
    end.set()
    await holder
    # Once more after the load: the machine's drift (other work on it) shows as a difference.
    after = await run_clients(port, [["/health/live"]], [{}], min(BASELINE_SECONDS, max(2.0, SECONDS / 6)))
    for status, count in after.statuses.items():
        baseline.statuses[status] = baseline.statuses.get(status, 0) + count
    baseline.latencies += after.latencies
    baseline.failures += after.failures
    baseline.seconds += after.seconds
    return baseline, api, sockets, tracebacks


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    total, per_process, processes = configured_total()
    watch = ConnectionWatch()
    process: subprocess.Popen | None = None
    try:
        log = server_log()
        port = free_port()
        process = start_theo(port, log)
        wait_ready(process, port, log)  # it has migrated the database by now
        stale = delete_bench_rows(EMAIL_PREFIX)
        if stale:
            print(f"(removed {stale} bench users left by an earlier run)")
        tokens = create_tokens(CLIENTS)
        watch.start()
        baseline, api, sockets, tracebacks = asyncio.run(measure(port, tokens, log))
        watch.stopping.set()
        watch.join(timeout=5)
        left = watch.current()
        closing = log.read_text(errors="replace").count("Traceback") - tracebacks
        stop_theo(process)
        _report(baseline, api, sockets, watch, left, (tracebacks, closing), (total, per_process, processes))
    finally:
        watch.stopping.set()
        if process is not None:
            stop_theo(process)
        with contextlib.suppress(Exception):
            delete_bench_rows(EMAIL_PREFIX)


def _report(
    baseline: Phase,
    api: Phase,
    sockets: Sockets,
    watch: ConnectionWatch,
    left: int,
    tracebacks: tuple[int, int],
    configured: tuple[int, int, int],
) -> None:
    total, per_process, processes = configured
    ms = 1000

    def latency(phase: Phase) -> tuple[float, float]:
        return percentile(phase.latencies, 0.50) * ms, percentile(phase.latencies, 0.95) * ms

    b50, b95 = latency(baseline)
    a50, a95 = latency(api)
    print(f"{CLIENTS} API clients + {SOCKETS} WebSockets for {api.seconds:.0f} s; `manage.py run` (daphne + worker)")
    print(
        f"baseline /health/live : {baseline.requests} requests in {baseline.seconds:.0f} s before and after "
        f"({baseline.requests / baseline.seconds:.0f}/s), p50 {b50:.1f} ms, p95 {b95:.1f} ms, "
        f"5xx {baseline.server_errors}, failed {baseline.failures}"
    )
    print(
        f"API reads            : {api.requests} requests ({api.requests / api.seconds:.0f}/s), "
        f"5xx {api.server_errors}, failed {api.failures}, p50 {a50:.1f} ms, p95 {a95:.1f} ms"
    )
    print(f"  statuses           : {dict(sorted(api.statuses.items()))}")
    print(f"  vs baseline        : p50 x{a50 / b50:.1f}, p95 x{a95 / b95:.1f}")
    print(
        f"WebSockets           : {sockets.opened} opened in {sockets.ramp_seconds:.1f} s before the API load, "
        f"{sockets.refused} refused, {sockets.dropped} dropped during the run"
    )
    for reason, count in sockets.reasons.most_common(3):
        print(f"  refused            : {count} x {reason}")
    print(
        f"PostgreSQL           : at most {watch.most} connections from Theo ({watch.samples} samples), "
        f"configured total {total} (pool max {per_process} x {processes} processes); "
        f"{left} left when the load ended; at most {watch.most_on_server} on the whole server"
    )
    print(
        f"server log tracebacks : {tracebacks[0]} during the load, {tracebacks[1]} while {sockets.opened} "
        f"sockets closed at once ({server_log()})"
    )
    ok = not (api.server_errors or baseline.server_errors or api.failures or sockets.refused or sockets.dropped)
    ok = ok and watch.most <= total
    print("PASS" if ok else "FAIL: expected 0 5xx, 0 failed requests or sockets, connections within the total")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        SECONDS = float(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")
    import django

    from apps.core.embedded import ensure_services

    ensure_services()
    django.setup()
    main()
