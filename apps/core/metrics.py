"""Theo's own Prometheus metrics (django-prometheus serves them on /metrics)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

WEBSOCKET_CONNECTIONS = Gauge(
    "theo_websocket_connections_open",
    "WebSocket connections currently open in this process.",
    ["route"],
)

# --- Counters: AI usage, API errors, cache ------------------------------------------------
AI_TOKENS = Counter(
    "theo_ai_tokens", "Model tokens used (input + output), by AIUsage kind.", ["kind"]
)  # exported as theo_ai_tokens_total
AI_COST = Counter("theo_ai_cost_usd", "Model cost in US dollars, as recorded in AIUsage.")
API_ERRORS = Counter("theo_api_errors", "Responses in the API error format, by error code.", ["code"])
CACHE_REQUESTS = Counter(
    "theo_cache_requests", "Cache look-ups by tier (hot: in process, redis) and result.", ["tier", "result"]
)
CACHE_TIERS, CACHE_RESULTS = ("hot", "redis"), ("hit", "miss")
for _tier in CACHE_TIERS:  # every series exists from the start: rate() and the hit-rate alert see zeros
    for _result in CACHE_RESULTS:
        CACHE_REQUESTS.labels(tier=_tier, result=_result)


def ai_usage_count(*, kind: str, tokens: int, cost: float) -> None:
    AI_TOKENS.labels(kind=kind).inc(tokens)
    AI_COST.inc(cost)


def api_error_count(*, code: str) -> None:
    API_ERRORS.labels(code=code).inc()


def cache_request_count(*, tier: str, hit: bool) -> None:
    CACHE_REQUESTS.labels(tier=tier, result="hit" if hit else "miss").inc()


# --- end counters -------------------------------------------------------------------------


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
                "This process's PostgreSQL pool: connections in_use and idle, open (size), and its max size.",
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
            for state in ("in_use", "idle", "size", "max"):
                connections.add_metric([state], figures[state])
            waiting.add_metric([], figures["waiting"])
        yield connections
        yield waiting


REGISTRY.register(DatabasePoolCollector())
# --- end database pool ----------------------------------------------------------------------
