"""`manage.py embedded status|stop`: the embedded PostgreSQL and Redis under THEO_DATA_DIR."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core import embedded


class Command(BaseCommand):
    help = "Show or stop the embedded PostgreSQL and Redis."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["status", "stop"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "stop":
            stopped = embedded.stop_all(settings.DATA_DIR)
            self.stdout.write(f"Stopped: {', '.join(stopped) or 'nothing was running'}.")
            return
        # This command starts nothing (manage.py skips it): it tells what runs.
        running = embedded.running(settings.DATA_DIR)
        self.stdout.write(f"data dir:  {settings.DATA_DIR}")
        database = _state(settings.EMBEDDED_DATABASE, "postgres" in running)
        self.stdout.write(f"database:  {database} {settings.DATABASE_URL}")
        self.stdout.write(f"redis:     {_state(settings.EMBEDDED_REDIS, 'redis' in running)} {settings.REDIS_URL}")


def _state(is_embedded: bool, is_running: bool) -> str:
    if not is_embedded:
        return "external"
    return "embedded (running)" if is_running else "embedded (stopped)"
