"""/health, /health/live and /health/ready: what a load balancer or operator sees.

No Celery worker listens on the test broker here (the integration tests start one of
their own, in tests/integration/), so the celery check fails unless a test stubs it. Django's test client comes from
127.0.0.1 (loopback: details); tests of what others see pass REMOTE_ADDR.
"""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from apps.core import health
from theo.celery import app as celery_app

pytestmark = pytest.mark.django_db

ALL_CHECKS = {"database", "migrations", "redis", "celery", "disk", "embedding_model"}
NO_REDIS = "unix:///tmp/theo-no-redis.sock"


@pytest.fixture
def worker_answers(monkeypatch):
    """Pretend a Celery worker answers the ping (the real one is tested in tests/integration)."""
    monkeypatch.setitem(health._CHECKS, "celery", health.RegisteredCheck(lambda: None, ready=True, depends_on="redis"))


@pytest.fixture
def redis_down(settings, monkeypatch):
    """The cache and the Celery broker both point at a Redis socket nobody listens on."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": NO_REDIS,
            "KEY_PREFIX": "theo",
        }
    }
    broker, real_broker = "redis+socket:///tmp/theo-no-redis.sock?virtual_host=8", celery_app.conf.broker_url
    settings.CELERY_BROKER_URL = broker
    celery_app.conf.broker_url = broker  # set back by hand: monkeypatch's undo left the dead URL
    monkeypatch.setattr(celery_app, "_pool", None)  # no pooled connection to the real broker
    # ... and none to the dead one afterwards: the producer pools made meanwhile are dropped
    # (the control mailbox caches its own, which would keep pinging the dead socket).
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    celery_app.control.mailbox.__dict__.pop("producer_pool", None)
    yield
    celery_app.conf.broker_url = real_broker
    celery_app.control.mailbox.__dict__.pop("producer_pool", None)


def test_health_reports_status_version_and_every_check(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] in ("ok", "degraded")
    assert body["version"] == settings.VERSION
    assert set(body["checks"]) >= ALL_CHECKS
    for name in ("database", "migrations", "redis", "disk"):
        assert body["checks"][name]["status"] == "ok", body["checks"][name]
        assert body["checks"][name]["latency_ms"] >= 0
    assert body["checks"]["disk"]["free_mb"] > 0
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_health_is_ok_when_every_check_passes(client, worker_answers):
    body = client.get("/health").json()
    assert body["status"] == "ok", body
    assert all(check["status"] == "ok" for check in body["checks"].values())


def test_live_answers_200_without_checking_anything(client, redis_down):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_200_when_required_checks_pass(client, worker_answers):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ready"
    assert "failing" not in body
    assert set(body["checks"]) == {"database", "migrations", "redis", "celery", "embedding_model"}


def test_ready_is_503_naming_celery_when_no_worker_answers(client):
    started = time.monotonic()
    response = client.get("/health/ready")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["failing"] == ["celery"]
    assert body["checks"]["celery"]["status"] == "fail"
    assert "worker" in body["checks"]["celery"]["detail"]
    assert body["checks"]["redis"]["status"] == "ok"


def test_ready_is_503_naming_redis_when_redis_is_down_and_does_not_hang(client, redis_down):
    started = time.monotonic()
    response = client.get("/health/ready")
    elapsed = time.monotonic() - started
    assert elapsed < 4, f"/health/ready took {elapsed:.1f}s with Redis down"
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert "redis" in body["failing"]
    assert "celery" in body["failing"]  # reached through the Redis broker
    assert body["checks"]["redis"]["status"] == "fail"
    assert body["checks"]["redis"]["detail"]
    assert "redis" in body["checks"]["celery"]["detail"]
    assert body["checks"]["database"]["status"] == "ok"


def test_health_is_degraded_but_answers_when_redis_is_down(client, redis_down):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"


def test_low_disk_degrades_health_but_not_readiness(client, settings, worker_answers):
    settings.HEALTH_DISK_MIN_FREE_MB = 10**12
    body = client.get("/health").json()
    assert body["status"] == "degraded"
    disk = body["checks"]["disk"]
    assert disk["status"] == "fail"
    assert disk["min_free_mb"] == 10**12
    assert disk["free_mb"] < disk["min_free_mb"]
    assert "MB free" in disk["detail"]

    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.json()
    assert "disk" not in ready.json()["checks"]


def test_a_failing_database_check_skips_the_migrations_check(client, monkeypatch, worker_answers):
    def broken() -> None:
        raise ConnectionError("database is gone")

    monkeypatch.setitem(health._CHECKS, "database", health.RegisteredCheck(broken, ready=True))
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database", "migrations"]
    assert body["checks"]["database"]["detail"] == "ConnectionError: database is gone"
    assert body["checks"]["migrations"]["detail"] == "database unavailable"


def test_health_endpoints_accept_only_get(client):
    for path in ("/health", "/health/live", "/health/ready"):
        assert client.post(path).status_code == 405, path


# --- who sees what --------------------------------------------------------------------

REMOTE = "203.0.113.7"  # TEST-NET-3: not this machine


def test_anonymous_remote_caller_sees_statuses_only(client):
    body = client.get("/health", REMOTE_ADDR=REMOTE).json()
    assert set(body) == {"status", "checks"}
    assert set(body["checks"]) >= ALL_CHECKS
    assert all(check == {"status": check["status"]} for check in body["checks"].values()), body
    # The celery check failed (no worker here): its reason stays private too.
    assert body["checks"]["celery"] == {"status": "fail"}


def test_anonymous_remote_caller_gets_no_database_error_text(client, monkeypatch, worker_answers):
    def broken() -> None:
        raise ConnectionError('connection to "db.internal" failed for user "theo"')

    monkeypatch.setitem(health._CHECKS, "database", health.RegisteredCheck(broken, ready=True))
    for path in ("/health", "/health/ready"):
        response = client.get(path, REMOTE_ADDR=REMOTE)
        assert b"db.internal" not in response.content and b"theo" not in response.content, path
        assert response.json()["checks"]["database"] == {"status": "fail"}
    ready = client.get("/health/ready", REMOTE_ADDR=REMOTE)
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["database", "migrations"]
    # Loopback (an operator on the machine) sees the reason.
    assert "db.internal" in client.get("/health").json()["checks"]["database"]["detail"]


def test_staff_see_details_from_anywhere(client, admin_user):
    client.force_login(admin_user)
    body = client.get("/health", REMOTE_ADDR=REMOTE).json()
    assert body["version"] == settings.VERSION
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert "worker" in body["checks"]["celery"]["detail"]


def test_signed_in_non_staff_see_statuses_only(client, user):
    client.force_login(user)
    body = client.get("/health", REMOTE_ADDR=REMOTE).json()
    assert "version" not in body
    assert body["checks"]["database"] == {"status": "ok"}


def test_loopback_counts_for_nothing_behind_a_proxy(client, settings):
    """Behind a proxy every request comes from the proxy, often 127.0.0.1."""
    settings.BEHIND_PROXY = True
    body = client.get("/health", REMOTE_ADDR="127.0.0.1").json()
    assert "version" not in body
    assert body["checks"]["database"] == {"status": "ok"}
    assert "version" not in client.get("/health", REMOTE_ADDR="::1").json()


def test_ipv6_loopback_sees_details(client):
    body = client.get("/health", REMOTE_ADDR="::1").json()
    assert body["version"] == settings.VERSION


def test_database_check_reports_this_processs_pool(client):
    pool = client.get("/health").json()["checks"]["database"]["pool"]
    assert pool["max"] == settings.DB_POOL_MAX_SIZE
    assert set(pool) == {"max", "size", "in_use", "idle", "waiting"}
    assert 1 <= pool["in_use"] <= pool["size"] <= pool["max"]  # this request holds one
    assert pool["idle"] == pool["size"] - pool["in_use"]


def test_celery_is_pinged_at_most_once_per_few_seconds(client, monkeypatch):
    pings = []
    real_ping = celery_app.control.ping

    def counting_ping(*args, **kwargs):
        pings.append(1)
        return real_ping(*args, **kwargs)

    monkeypatch.setattr(celery_app.control, "ping", counting_ping)
    for _ in range(5):
        body = client.get("/health", REMOTE_ADDR=REMOTE).json()
        assert body["checks"]["celery"]["status"] == "fail"
    assert len(pings) == 1
    assert client.get("/health").json()["checks"]["celery"]["cached"] is True

    from django.core.cache import cache

    cache.delete(health.CELERY_PING_CACHE_KEY)  # as if the few seconds had passed
    client.get("/health/ready", REMOTE_ADDR=REMOTE)
    assert len(pings) == 2


def test_the_celery_check_pings_the_app_the_project_registered():
    """core imports no project code: theo/celery.py hands its app to the health checks."""
    from apps.core import health
    from theo.celery import app

    assert health._celery_app is app
