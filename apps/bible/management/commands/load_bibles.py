"""Load the KJV and WEB as verse passages now (normally a background job of `run`)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.bible.translations import bibles_load


class Command(BaseCommand):
    help = "Insert any missing Bible verses, then embed them (use --no-embed to leave that to the worker)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-embed", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        for translation, inserted in bibles_load().items():
            self.stdout.write(f"{translation.upper()}: {inserted} verse(s) inserted.")
        if not options["no_embed"]:
            call_command("reembed", source_kind="bible", stdout=self.stdout)
