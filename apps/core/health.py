"""Health checks: each returns a CheckResult; /health, /health/ready and `manage.py run` use them.

Other apps add theirs with `register_check(name, fn, ready=...)` (e.g. the embedding
model, the Claude circuit breaker).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from apps.core.redis import redis_client

OK = "ok"
FAIL = "fail"


@dataclass
class CheckResult:
    status: str
    latency_ms: float = 0.0
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return {k: v for k, v in data.items() if v not in ("", {})}


def _timed(fn: Callable[[], CheckResult | None]) -> CheckResult:
    started = time.monotonic()
    try:
        result = fn() or CheckResult(OK)
    except Exception as exc:  # a health check reports failures, it never raises
        result = CheckResult(FAIL, detail=f"{type(exc).__name__}: {exc}"[:300])
    result.latency_ms = round((time.monotonic() - started) * 1000, 1)
    return result


def database_pool_figures(alias: str = "default") -> dict[str, int] | None:
    """This process's psycopg pool: {"max", "size", "in_use", "idle", "waiting"}; None without
    a pool. Reads the pool Django already made; never creates or opens one."""
    conn = connections[alias]
    options = conn.settings_dict.get("OPTIONS", {}).get("pool")
    if not options:
        return None
    pool = getattr(conn, "_connection_pools", {}).get(alias)
    if pool is None:  # nothing in this process has used the database yet
        configured = options if isinstance(options, dict) else {}
        return {"max": int(configured.get("max_size") or 0), "size": 0, "in_use": 0, "idle": 0, "waiting": 0}
    stats = pool.get_stats()
    size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
    return {
        "max": pool.max_size,
        "size": size,
        "in_use": max(0, size - idle),
        "idle": idle,
        "waiting": stats.get("requests_waiting", 0),
    }


def check_database() -> CheckResult | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    pool = database_pool_figures()
    return CheckResult(OK, extra={"pool": pool}) if pool is not None else None


def check_migrations() -> CheckResult | None:
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if unapplied:
        return CheckResult(FAIL, detail=f"{len(unapplied)} migration(s) not applied; run `manage.py migrate`.")
    return None


def check_redis() -> CheckResult | None:
    redis_client().ping()
    return None


CELERY_PING_CACHE_KEY = "health:celery-ping"
CELERY_PING_CACHE_SECONDS = 5


_celery_app: Any = None  # given by the project (theo/celery.py): core imports no project code


def celery_app_register(app: Any) -> None:
    """The Celery application whose workers the celery check pings."""
    global _celery_app
    _celery_app = app


def check_celery_worker() -> CheckResult | None:
    """Pings the workers at most once per CELERY_PING_CACHE_SECONDS (shared through the
    Redis cache), so that a stream of anonymous /health requests never floods the broker."""
    if _celery_app is None:
        return CheckResult(FAIL, detail="No Celery application was registered (theo.celery).")
    cache = caches["default"]
    try:
        cached = cache.get(CELERY_PING_CACHE_KEY)
    except Exception:  # the cache is Redis; the redis check reports it
        cached = None
    if cached is not None:
        return CheckResult(cached["status"], detail=cached["detail"], extra={"cached": True})
    # limit=1: return as soon as one worker answers instead of waiting out the timeout.
    replies = _celery_app.control.ping(timeout=1.0, limit=1)
    result = CheckResult(OK) if replies else CheckResult(FAIL, detail="No Celery worker answered within 1 s.")
    with contextlib.suppress(Exception):
        cache.set(CELERY_PING_CACHE_KEY, {"status": result.status, "detail": result.detail}, CELERY_PING_CACHE_SECONDS)
    return result


def check_disk() -> CheckResult | None:
    usage = shutil.disk_usage(settings.DATA_DIR)
    free_mb = usage.free // (1024 * 1024)
    minimum = settings.HEALTH_DISK_MIN_FREE_MB
    extra = {"free_mb": free_mb, "min_free_mb": minimum}
    if free_mb < minimum:
        return CheckResult(FAIL, detail=f"Only {free_mb} MB free under THEO_DATA_DIR.", extra=extra)
    return CheckResult(OK, extra=extra)


# --- Claude circuit breaker (apps/core/breaker.py) -------------------------------------
def check_claude_breaker() -> CheckResult | None:
    """Informational: passes with the breaker's state; an open breaker is not a failure."""
    from apps.core.breaker import health_check

    return health_check()


# --- end Claude circuit breaker ---------------------------------------------------------


def check_cache() -> CheckResult | None:
    """Informational: each tier's hit rate in this process (apps/core/cache.py)."""
    from apps.core.cache import hit_rates

    return CheckResult(OK, extra={"hit_rate": hit_rates()})


@dataclass(frozen=True)
class RegisteredCheck:
    fn: Callable[[], CheckResult | None]
    ready: bool  # also required for /health/ready
    depends_on: str = ""  # skipped (failed) when this earlier check failed


_CHECKS: dict[str, RegisteredCheck] = {
    "database": RegisteredCheck(check_database, ready=True),
    "migrations": RegisteredCheck(check_migrations, ready=True, depends_on="database"),
    "redis": RegisteredCheck(check_redis, ready=True),
    # The worker is reached through the Redis broker; asking without it would hang.
    "celery": RegisteredCheck(check_celery_worker, ready=True, depends_on="redis"),
    "disk": RegisteredCheck(check_disk, ready=False),
    # Reports the state; never part of readiness (open = offline answers, not an unready server).
    "claude_breaker": RegisteredCheck(check_claude_breaker, ready=False, depends_on="redis"),
    "cache": RegisteredCheck(check_cache, ready=False),
}


def register_check(name: str, fn: Callable[[], CheckResult | None], *, ready: bool, depends_on: str = "") -> None:
    _CHECKS[name] = RegisteredCheck(fn, ready, depends_on)


def run_checks(*, ready_only: bool = False) -> dict[str, CheckResult]:
    results: dict[str, CheckResult] = {}
    for name, check in _CHECKS.items():
        if ready_only and not check.ready:
            continue
        if check.depends_on and results.get(check.depends_on, CheckResult(OK)).status != OK:
            results[name] = CheckResult(FAIL, detail=f"{check.depends_on} unavailable")
        else:
            results[name] = _timed(check.fn)
    return results


def overall_status(results: dict[str, CheckResult]) -> str:
    return "ok" if all(r.status == OK for r in results.values()) else "degraded"
