"""The circuit breaker in front of Claude: state shared through the real (test) Redis.

Every test uses a breaker name of its own (other test runs may share this Redis) and a
fake clock; two CircuitBreaker instances with the same name stand in for two processes.

Each test's cache.clear() (tests/conftest.py) flushes the cache's Redis database, and
test runs in other processes do that at any moment. So the breakers here keep their state
on the same Redis server but in a database of their own (`isolated_redis`); the default
client (the cache's database) is covered by test_the_default_client_is_the_caches_redis.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from django.test import Client
from redis.backoff import NoBackoff
from redis.retry import Retry
from structlog.testing import capture_logs

import apps.core.metrics  # noqa: F401 - registers the breaker collector (daphne imports it via theo.asgi)
from apps.core import breaker as breaker_module
from apps.core.breaker import BreakerState, CircuitBreaker, claude_breaker
from apps.core.redis import redis_client
from theo import settings as settings_module

NO_REDIS = "unix:///tmp/theo-no-redis.sock"
DEAD_REDIS_CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": NO_REDIS}}
START = 1_700_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def name() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def isolated_redis() -> Iterator[redis.Redis]:
    """The test Redis server, database REDIS_DB_BASE + 5: nobody flushes it."""
    client = redis.Redis.from_url(settings_module.redis_db_url(5))
    yield client
    client.close()


@pytest.fixture
def make(name: str, clock: FakeClock, isolated_redis: redis.Redis):
    """make() -> a new instance (a 'process') of this test's breaker."""
    created: list[CircuitBreaker] = []

    def factory(**options) -> CircuitBreaker:
        options = {
            "failure_threshold": 5,
            "reset_seconds": 60,
            "clock": clock,
            "client": lambda: isolated_redis,
            **options,
        }
        created.append(CircuitBreaker(name, **options))
        return created[-1]

    yield factory
    if created:
        created[0].reset()
    breaker_module._KNOWN.pop(name, None)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record_failure()


def open_breaker(breaker: CircuitBreaker) -> None:
    fail(breaker, breaker.failure_threshold)
    assert breaker.state() is BreakerState.OPEN


# --- closed / open -------------------------------------------------------------------


def test_a_new_breaker_is_closed_and_allows_calls(make):
    breaker = make()
    assert breaker.state() is BreakerState.CLOSED
    assert breaker.allow() is True
    assert breaker.snapshot()["consecutive_failures"] == 0


def test_stays_closed_below_the_threshold(make):
    breaker = make()
    fail(breaker, 4)
    assert breaker.state() is BreakerState.CLOSED
    assert breaker.allow() is True
    assert breaker.snapshot()["consecutive_failures"] == 4


def test_opens_at_five_consecutive_failures_and_refuses_calls(make):
    breaker = make()
    fail(breaker, 5)
    assert breaker.state() is BreakerState.OPEN
    assert breaker.allow() is False
    assert breaker.allow() is False


def test_a_success_resets_the_consecutive_count(make):
    breaker = make()
    fail(breaker, 4)
    breaker.record_success()
    assert breaker.snapshot()["consecutive_failures"] == 0
    fail(breaker, 4)
    assert breaker.state() is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state() is BreakerState.OPEN


def test_the_threshold_is_configurable(make):
    breaker = make(failure_threshold=2)
    fail(breaker, 2)
    assert breaker.state() is BreakerState.OPEN


def test_open_refuses_until_reset_seconds_have_passed(make, clock):
    breaker = make()
    open_breaker(breaker)
    clock.advance(59.9)
    assert breaker.allow() is False
    assert breaker.state() is BreakerState.OPEN
    clock.advance(0.1)
    assert breaker.state() is BreakerState.HALF_OPEN


def test_failures_while_open_do_not_extend_the_open_period(make, clock):
    breaker = make()
    open_breaker(breaker)
    opened_at = breaker.snapshot()["opened_at"]
    clock.advance(30)
    breaker.record_failure()  # a call let through before the breaker opened, failing late
    snapshot = breaker.snapshot()
    assert snapshot["opened_at"] == opened_at
    assert snapshot["consecutive_failures"] == 6


# --- shared across processes ------------------------------------------------------------


def test_state_is_visible_from_a_second_instance(make):
    first, second = make(), make()
    fail(first, 3)
    fail(second, 2)  # the count is shared, not per process
    assert first.state() is BreakerState.OPEN
    assert second.state() is BreakerState.OPEN
    assert second.allow() is False
    assert second.snapshot()["consecutive_failures"] == 5


def test_exactly_one_half_open_trial_across_instances(make, clock):
    first, second = make(), make()
    open_breaker(first)
    clock.advance(60)
    assert first.allow() is True  # the trial
    assert second.allow() is False
    assert first.allow() is False
    assert second.state() is BreakerState.HALF_OPEN
    assert second.snapshot()["trial_in_progress"] is True


def test_racing_processes_get_exactly_one_trial(make, clock):
    open_breaker(make())
    clock.advance(60)
    contenders = [make() for _ in range(8)]
    barrier = threading.Barrier(len(contenders))
    results: list[bool] = []

    def contend(breaker: CircuitBreaker) -> None:
        barrier.wait()
        results.append(breaker.allow())

    threads = [threading.Thread(target=contend, args=(breaker,)) for breaker in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == len(contenders)
    assert results.count(True) == 1


def test_trial_success_closes_for_everyone(make, clock):
    first, second = make(), make()
    open_breaker(first)
    clock.advance(60)
    assert first.allow() is True
    first.record_success()
    assert second.state() is BreakerState.CLOSED
    assert second.allow() is True
    assert first.allow() is True
    snapshot = second.snapshot()
    assert snapshot["consecutive_failures"] == 0
    assert snapshot["opened_at"] is None
    assert snapshot["trial_in_progress"] is False


def test_trial_failure_reopens_with_a_fresh_opened_at(make, clock):
    first, second = make(), make()
    open_breaker(first)
    clock.advance(61)
    assert second.allow() is True
    second.record_failure()
    snapshot = first.snapshot()
    assert snapshot["state"] == "open"
    assert snapshot["opened_at"] == clock.now
    assert snapshot["retry_at"] == clock.now + 60
    assert snapshot["trial_in_progress"] is False
    assert first.allow() is False
    clock.advance(59)
    assert first.allow() is False
    clock.advance(1)
    assert first.allow() is True  # the next trial
    assert second.allow() is False


def test_a_neutral_trial_gives_the_trial_to_the_next_caller_and_counts_nothing(make, clock):
    """A trial call Claude refused (400: this request's fault) says nothing about Claude:
    the breaker stays half-open with its count, and the next caller tries at once."""
    first, second = make(), make()
    open_breaker(first)
    clock.advance(60)
    assert first.allow() is True
    assert second.allow() is False
    first.record_neutral()
    snapshot = second.snapshot()
    assert (snapshot["state"], snapshot["consecutive_failures"]) == ("half_open", 5)
    assert snapshot["trial_in_progress"] is False
    assert second.allow() is True  # the next trial, without waiting for the first to expire
    assert first.allow() is False


def test_neutral_while_closed_or_open_changes_nothing(make, clock):
    breaker = make()
    fail(breaker, 2)
    breaker.record_neutral()
    assert breaker.snapshot()["consecutive_failures"] == 2 and breaker.state() is BreakerState.CLOSED
    fail(breaker, 3)
    breaker.record_neutral()
    assert breaker.state() is BreakerState.OPEN and breaker.allow() is False


def test_an_unreported_trial_expires_and_another_caller_tries(make, clock):
    first, second = make(trial_timeout=0.2), make(trial_timeout=0.2)
    open_breaker(first)
    clock.advance(60)
    assert first.allow() is True  # ... and this caller never reports (crashed)
    assert second.allow() is False
    time.sleep(0.4)  # the trial's expiry is Redis' own (real) time
    assert second.allow() is True


def test_snapshot_fields(make, clock, name):
    breaker = make()
    assert breaker.snapshot() == {
        "name": name,
        "state": "closed",
        "consecutive_failures": 0,
        "opened_at": None,
        "retry_at": None,
        "trial_in_progress": False,
    }
    open_breaker(breaker)
    assert breaker.snapshot() == {
        "name": name,
        "state": "open",
        "consecutive_failures": 5,
        "opened_at": START,
        "retry_at": START + 60,
        "trial_in_progress": False,
    }


def test_reset_closes_and_clears(make):
    breaker = make()
    open_breaker(breaker)
    make().reset()
    assert breaker.state() is BreakerState.CLOSED
    assert breaker.allow() is True
    assert breaker.snapshot()["consecutive_failures"] == 0


def test_keys_live_under_the_breaker_prefix(make, name, isolated_redis):
    make().record_failure()
    assert isolated_redis.get(f"theo:breaker:{name}:failures") == b"1"


def test_the_default_client_is_the_caches_redis(name):
    breaker = CircuitBreaker(name)
    try:
        breaker.record_failure()
        assert redis_client().get(f"theo:breaker:{name}:failures") == b"1"
        assert breaker.snapshot()["consecutive_failures"] == 1
    finally:
        breaker.reset()
        breaker_module._KNOWN.pop(name, None)


def test_opening_is_logged(make):
    breaker = make()
    with capture_logs() as logs:
        open_breaker(breaker)
    opened = [entry for entry in logs if entry["event"] == "circuit_breaker_opened"]
    assert len(opened) == 1
    assert opened[0]["log_level"] == "warning"
    assert opened[0]["consecutive_failures"] == 5


# --- settings -------------------------------------------------------------------------


def test_claude_breaker_reads_its_settings(settings):
    settings.LLM_BREAKER_FAILURES = 3
    settings.LLM_BREAKER_RESET_SECONDS = 15
    breaker = claude_breaker()
    assert breaker.name == "claude"
    assert breaker.failure_threshold == 3
    assert breaker.reset_seconds == 15


def test_claude_breaker_defaults(settings):
    del settings.LLM_BREAKER_FAILURES
    del settings.LLM_BREAKER_RESET_SECONDS
    breaker = claude_breaker()
    assert breaker.failure_threshold == 5
    assert breaker.reset_seconds == 60


# --- Redis unavailable: fail open -------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_fails_open(breaker: CircuitBreaker) -> None:
    with capture_logs() as logs:
        assert breaker.allow() is True
        fail(breaker, 10)
        breaker.record_success()
        breaker.reset()
        assert breaker.allow() is True
        assert breaker.state() is BreakerState.CLOSED
        snapshot = breaker.snapshot()
    assert snapshot["state"] == "closed"
    assert "Redis unavailable" in snapshot["error"]
    warnings = [entry for entry in logs if entry["event"] == "circuit_breaker_redis_unavailable"]
    assert len(warnings) == 1  # throttled, not one per call
    assert warnings[0]["log_level"] == "warning"


def test_redis_on_a_closed_port_fails_open(make):
    port = closed_port()
    # Without redis-py's retries (10, backing off) each refused connection would take seconds.
    assert_fails_open(make(client=lambda: redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))))


def test_after_a_redis_failure_calls_leave_redis_alone_for_a_while(make, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(breaker_module, "_monotonic", lambda: now[0])
    attempts = []

    def dead_redis() -> redis.Redis:
        attempts.append(1)
        raise redis.ConnectionError("refused")

    breaker = make(client=dead_redis)
    assert breaker.allow() is True
    assert len(attempts) == 1
    for _ in range(5):
        assert breaker.allow() is True
        breaker.record_failure()
        breaker.record_success()
    assert len(attempts) == 1  # failing open at once, not waiting on Redis each time
    assert make().allow() is True  # another instance of this breaker in this process skips too

    now[0] += breaker_module.REDIS_RETRY_SECONDS
    assert breaker.allow() is True
    assert len(attempts) == 2  # asks again


def test_redis_down_under_the_default_cache_fails_open(make, settings):
    settings.CACHES = DEAD_REDIS_CACHES
    started = time.monotonic()
    assert_fails_open(make(client=redis_client))
    assert time.monotonic() - started < 5


def test_a_default_cache_without_redis_fails_open(make, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert_fails_open(make(client=redis_client))


# --- /health and /metrics --------------------------------------------------------------


@pytest.mark.django_db
def test_health_reports_the_claude_breaker(client):
    check = client.get("/health").json()["checks"]["claude_breaker"]
    assert check["status"] == "ok", check
    assert check["state"] in {"closed", "half_open", "open"}
    assert {"consecutive_failures", "opened_at", "retry_at", "trial_in_progress"} <= set(check)


@pytest.mark.django_db
def test_an_open_breaker_passes_health_and_stays_out_of_readiness(client, make, monkeypatch):
    breaker = make()
    open_breaker(breaker)
    monkeypatch.setattr(breaker_module, "claude_breaker", lambda: breaker)
    check = client.get("/health").json()["checks"]["claude_breaker"]
    assert check["status"] == "ok"
    assert check["state"] == "open"
    assert check["consecutive_failures"] == 5
    assert check["retry_at"] == START + 60
    assert "claude_breaker" not in client.get("/health/ready").json()["checks"]


@pytest.mark.django_db
def test_health_breaker_check_is_skipped_when_redis_is_down(client, settings):
    settings.CACHES = DEAD_REDIS_CACHES
    check = client.get("/health").json()["checks"]["claude_breaker"]
    assert check["status"] == "fail"
    assert check["detail"] == "redis unavailable"


def metric(text: str, metric_name: str, breaker_name: str) -> float | None:
    match = re.search(rf'^{metric_name}\{{name="{re.escape(breaker_name)}"\}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.mark.django_db
def test_metrics_expose_breaker_state_and_failures(make, clock, name):
    breaker = make()

    def scrape() -> str:
        response = Client().get("/metrics")
        assert response.status_code == 200
        return response.content.decode()

    fail(breaker, 2)
    text = scrape()
    assert "# TYPE theo_llm_breaker_state gauge" in text
    assert "# TYPE theo_llm_breaker_consecutive_failures gauge" in text
    assert metric(text, "theo_llm_breaker_state", "claude") in (0, 1, 2)
    assert metric(text, "theo_llm_breaker_state", name) == 0
    assert metric(text, "theo_llm_breaker_consecutive_failures", name) == 2

    fail(breaker, 3)
    text = scrape()
    assert metric(text, "theo_llm_breaker_state", name) == 2
    assert metric(text, "theo_llm_breaker_consecutive_failures", name) == 5

    clock.advance(60)
    assert metric(scrape(), "theo_llm_breaker_state", name) == 1


@pytest.mark.django_db
def test_metrics_still_answer_when_redis_is_down(settings, make, name):
    make(client=redis_client)
    settings.CACHES = DEAD_REDIS_CACHES
    response = Client().get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "# TYPE theo_llm_breaker_state gauge" in text
    assert metric(text, "theo_llm_breaker_state", name) is None
