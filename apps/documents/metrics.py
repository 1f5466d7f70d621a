"""Ingestion backlog on /metrics: documents not yet completed or failed, read at scrape time.

The figures come from the database, so every process reports the same; the alert uses max().
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from apps.documents.models import Document
from apps.documents.selectors import IN_PIPELINE


class IngestionBacklogCollector(Collector):
    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "theo_ingestion_documents", "Documents waiting for or in ingestion, by status.", labels=["status"]
            ),
            GaugeMetricFamily(
                "theo_ingestion_oldest_seconds",
                "Seconds since the least recently updated queued or processing document last moved (0: none).",
            ),
        )

    def describe(self) -> Iterator[Metric]:
        # Without describe() the registry would collect (query the database) at registration.
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        documents, oldest = self._families()
        try:
            rows = (
                Document.objects.filter(status__in=IN_PIPELINE)
                .order_by()
                .values("status")
                .annotate(n=Count("id"), at=Min("updated_at"))
            )
            figures = {row["status"]: (row["n"], row["at"]) for row in rows}
        except Exception:  # database unreachable: no samples rather than made-up ones
            yield documents
            yield oldest
            return
        for status in IN_PIPELINE:
            documents.add_metric([str(status)], figures.get(status, (0, None))[0])
        stamps = [at for _, at in figures.values() if at is not None]
        oldest.add_metric([], (timezone.now() - min(stamps)).total_seconds() if stamps else 0.0)
        yield documents
        yield oldest


def register() -> None:
    REGISTRY.register(IngestionBacklogCollector())
