"""Theo's own Prometheus metrics (django-prometheus serves them on /metrics)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

WEBSOCKET_CONNECTIONS = Gauge(
    "theo_websocket_connections_open",
    "WebSocket connections currently open in this process.",
    ["route"],
)


# --- Circuit breakers (apps/core/breaker.py) -------------------------------------------
# Read from Redis at scrape time: the state is shared, so every process reports the same.
BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class CircuitBreakerCollector(Collector):
    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "theo_llm_breaker_state", "Circuit breaker state: 0 closed, 1 half_open, 2 open.", labels=["name"]
            ),
            GaugeMetricFamily(
                "theo_llm_breaker_consecutive_failures",
                "Consecutive failures the circuit breaker has counted.",
                labels=["name"],
            ),
        )

    def describe(self) -> Iterator[Metric]:
        # Without describe() the registry would collect (read Redis) at import time.
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        from apps.core.breaker import known_breakers

        state, failures = self._families()
        for breaker in known_breakers():
            try:
                snapshot = breaker.snapshot()
            except Exception:  # e.g. a corrupted key: one breaker must not break the scrape
                continue
            if "error" in snapshot:  # Redis unreachable: no samples rather than made-up ones
                break
            state.add_metric([breaker.name], BREAKER_STATE_VALUES[snapshot["state"]])
            failures.add_metric([breaker.name], snapshot["consecutive_failures"])
        yield state
        yield failures


REGISTRY.register(CircuitBreakerCollector())
# --- end circuit breakers -----------------------------------------------------------------


# --- Database pool (theo/settings.py "Database") -------------------------------------------
# Per process: each daphne and Celery process has a pool of its own; scrape each one.
class DatabasePoolCollector(Collector):
    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "theo_db_pool_connections",
                "This process's PostgreSQL pool: connections in_use and idle, and its max size.",
                labels=["state"],
            ),
            GaugeMetricFamily(
                "theo_db_pool_requests_waiting", "Requests in this process waiting for a pooled database connection."
            ),
        )

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        from apps.core.health import database_pool_figures

        connections, waiting = self._families()
        figures = database_pool_figures()
        if figures is not None:  # THEO_DB_POOL=false: no samples
            for state in ("in_use", "idle", "max"):
                connections.add_metric([state], figures[state])
            waiting.add_metric([], figures["waiting"])
        yield connections
        yield waiting


REGISTRY.register(DatabasePoolCollector())
# --- end database pool ----------------------------------------------------------------------
