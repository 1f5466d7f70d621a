"""Re-embed passages whose vectors were made by another model than the configured one
(or have none yet), in batches, with progress. Safe beside the running worker: batches are
claimed with SKIP LOCKED, and search never compares vectors of different models. With
THEO_EMBEDDING_ENSEMBLE on, passages without the second model's vector get one too."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.index.embeddings import model_name, second_model_name
from apps.index.ensemble import ensemble_enabled
from apps.index.models import Passage
from apps.index.reembed import (
    passages_embed_second_stale,
    passages_embed_stale,
    second_stale_passages,
    stale_passages,
)


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
        self._run(model_name(), stale_passages(source_kind=kind).count(), passages_embed_stale, **options)
        if ensemble_enabled():
            total = second_stale_passages(source_kind=kind).count()
            self._run(second_model_name(), total, passages_embed_second_stale, **options)

    def _run(self, model: str, total: int, embed_batch: Callable[..., int], **options: Any) -> None:
        self.stdout.write(f"{total} passage(s) to embed with {model}.")
        if options["dry_run"] or not total:
            return
        done, started = 0, time.monotonic()
        while embedded := embed_batch(source_kind=options["source_kind"], batch_size=options["batch_size"]):
            done += embedded
            rate = done / max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"  {min(done, total)}/{total} ({100 * min(done, total) // total}%) · {rate:.0f}/s")
        self.stdout.write(self.style.SUCCESS(f"Done: {done} passage(s) embedded with {model}."))
