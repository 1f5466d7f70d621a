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
        self.stdout.write(f"data dir:  {settings.DATA_DIR}")
        self.stdout.write(
            f"database:  {'embedded' if settings.EMBEDDED_DATABASE else 'external'} {settings.DATABASE_URL}"
        )
        self.stdout.write(f"redis:     {'embedded' if settings.EMBEDDED_REDIS else 'external'} {settings.REDIS_URL}")
