"""Re-embed passages whose vectors were made by another model than the configured one
(or have none yet), in batches, with progress. Safe beside the running worker: batches are
claimed with SKIP LOCKED, and search never compares vectors of different models."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.index.embeddings import model_name
from apps.index.models import Passage
from apps.index.reembed import passages_embed_stale, stale_passages


class Command(BaseCommand):
    help = "Re-embed passages whose embedding model differs from the configured one."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=settings.EMBEDDING_STALE_BATCH)
        parser.add_argument("--source-kind", choices=[kind.value for kind in Passage.SourceKind])
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be re-embedded.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        kind = options["source_kind"]
        total = stale_passages(source_kind=kind).count()
        self.stdout.write(f"{total} passage(s) to embed with {model_name()}.")
        if options["dry_run"] or not total:
            return
        done, started = 0, time.monotonic()
        while embedded := passages_embed_stale(source_kind=kind, batch_size=options["batch_size"]):
            done += embedded
            rate = done / max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"  {min(done, total)}/{total} ({100 * min(done, total) // total}%) · {rate:.0f}/s")
        self.stdout.write(self.style.SUCCESS(f"Done: {done} passage(s) embedded with {model_name()}."))
