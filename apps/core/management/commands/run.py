"""`manage.py run` (what `make run` calls): one command for the whole product.

Migrates, collects static files, creates the first admin (`ensure_admin`), then
supervises daphne (HTTP + WebSockets), a Celery worker, Celery beat and, with THEO_FLOWER=true,
Flower. Ctrl-C (SIGINT) or SIGTERM stops them all, then the embedded PostgreSQL and Redis if
this command started them. If any child but Flower dies, the others are stopped too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from apps.core import embedded
from apps.core.startup import run_startup_hooks

POLL_SECONDS = 0.5


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)  # added to the child's environment
    essential: bool = True  # when it exits, everything stops; else only a line is written


class Command(BaseCommand):
    help = "Run Theo: migrate, then daphne, a Celery worker, Celery beat (and Flower if asked) until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--no-worker", action="store_true", help="Do not start a Celery worker.")
        parser.add_argument("--no-beat", action="store_true", help="Do not start Celery beat.")
        parser.add_argument(
            "--shutdown-timeout", type=float, default=20.0, help="Seconds to wait for children before killing them."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._stopping = False
        _ensure_port_free(options["host"], options["port"])
        self.stdout.write("Applying migrations…")
        call_command("migrate", interactive=False, verbosity=0)
        # --clear: a stale compressed copy (chat.js.gz from an earlier build) would be served
        # instead of the file just collected.
        call_command("collectstatic", interactive=False, verbosity=0, clear=True)
        call_command("ensure_admin")
        if not options["no_worker"]:
            for message in run_startup_hooks():
                self.stdout.write(message)
        _release_database()
        children = self._children(options)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._request_stop)
        exit_code = 0
        try:
            for child in children:
                child.process = subprocess.Popen(child.argv, env={**_child_env(), **child.env}, process_group=0)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Theo is running on http://{options['host']}:{options['port']}/ — press Ctrl-C to stop."
                )
            )
            if settings.DB_POOL_ENABLED:
                processes = 1 + (1 + settings.WORKER_CONCURRENCY if not options["no_worker"] else 0)
                processes += 0 if options["no_beat"] else 1
                self.stdout.write(
                    f"Database: at most {settings.DB_POOL_MAX_SIZE * processes} connections "
                    f"({settings.DB_POOL_MAX_SIZE} per process x {processes} processes; docs/operations.md)."
                )
            exit_code = self._supervise(children)
        finally:
            self._stop(children, options["shutdown_timeout"])
            stopped = embedded.stop_started_services(settings.DATA_DIR)
            if stopped:
                self.stdout.write(f"Stopped embedded {', '.join(stopped)}.")
        if exit_code:
            raise CommandError("A Theo process exited unexpectedly; everything was stopped.", returncode=exit_code)

    def _children(self, options: dict[str, Any]) -> list[Child]:
        python = sys.executable
        level = settings.LOG_LEVEL.lower()
        # django-structlog logs every request; daphne's own access log would repeat it.
        # Never --proxy-headers: daphne would believe the leftmost X-Forwarded-For entry;
        # Theo reads forwarded headers itself from trusted proxies only (core.proxies).
        daphne = [python, "-m", "daphne", "-b", options["host"], "-p", str(options["port"]), "--access-log", os.devnull]
        children = [Child("web", [*daphne, "theo.asgi:application"])]
        if not options["no_worker"]:
            children.append(
                Child(
                    "worker",
                    [
                        python,
                        "-m",
                        "celery",
                        "-A",
                        "theo",
                        "worker",
                        "-l",
                        level,
                        "--concurrency",
                        str(settings.WORKER_CONCURRENCY),
                        "--queues",
                        settings.WORKER_QUEUES,
                        "-n",
                        f"theo-{os.getpid()}@%h",
                    ],
                )
            )
        if not options["no_beat"]:
            children.append(
                Child(
                    "beat",
                    [
                        python,
                        "-m",
                        "celery",
                        "-A",
                        "theo",
                        "beat",
                        "-l",
                        level,
                        "--pidfile=",
                        "--scheduler",
                        "django_celery_beat.schedulers:DatabaseScheduler",
                    ],
                )
            )
        flower = self._flower_child()
        if flower is not None:
            children.append(flower)
        return children

    def _flower_child(self) -> Child | None:
        """Flower on loopback behind basic auth, or nothing (with a line saying why): the
        monitor shows task arguments and can revoke tasks, so it never runs open."""
        if not settings.FLOWER_ENABLED:
            return None
        credentials = [c.strip() for c in settings.FLOWER_BASIC_AUTH.split(",") if c.strip()]
        if not credentials or not all(_is_user_password(c) for c in credentials):
            self.stderr.write(
                "Flower is not started: THEO_FLOWER=true needs THEO_FLOWER_BASIC_AUTH=user:password "
                "(Flower never runs without authentication). Theo runs without it."
            )
            return None
        argv = [sys.executable, "-m", "celery", "-A", "theo", "flower"]
        argv += ["--address=127.0.0.1", f"--port={settings.FLOWER_PORT}"]
        self.stdout.write(f"Flower (Celery monitor): http://127.0.0.1:{settings.FLOWER_PORT}/ (basic auth).")
        # In the environment, not argv: the password would show in `ps` to every local user.
        return Child("flower", argv, env={"FLOWER_BASIC_AUTH": ",".join(credentials)}, essential=False)

    def _request_stop(self, signum: int, frame: Any) -> None:
        if not self._stopping:
            self.stdout.write("\nStopping Theo…")
        self._stopping = True

    def _supervise(self, children: list[Child]) -> int:
        while not self._stopping:
            for child in children:
                code = child.process.poll() if child.process else None
                if code is not None:
                    self.stderr.write(f"The {child.name} process exited with code {code}.")
                    if child.essential:
                        return code or 1
                    child.process = None  # Theo goes on without it
            time.sleep(POLL_SECONDS)
        return 0

    def _stop(self, children: list[Child], timeout: float) -> None:
        running = [(c.name, c.process) for c in children if c.process and c.process.poll() is None]
        for _name, process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"The {name} process did not stop in time; killing it.")
                process.kill()
                process.wait()


def _release_database() -> None:
    """The supervisor needs no database while it waits: give its pooled connections back to
    PostgreSQL so that the configured total (docs/operations.md) counts only the children."""
    for conn in connections.all(initialized_only=True):
        conn.close()
        if hasattr(conn, "close_pool"):
            conn.close_pool()


def _is_user_password(credential: str) -> bool:
    user, _, password = credential.partition(":")
    return bool(user and password)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {host}:{port} ({exc.strerror}). Is Theo already running? "
                "Set PORT (or HOST) to use another address."
            ) from exc
