"""Circuit breakers whose state every process shares through Redis.

Claude calls go through `claude_breaker()`: after LLM_BREAKER_FAILURES consecutive
failures it opens and callers answer with the offline provider; LLM_BREAKER_RESET_SECONDS
later it half-opens and exactly one caller, across all processes, makes a trial call.
The trial's success closes the breaker; its failure re-opens it for another period.

    breaker = claude_breaker()
    if not breaker.allow():
        return offline_answer(...)
    try:
        answer = call_claude(...)
    except ClaudeError as error:
        if error.provider_side:  # 5xx, 529, 429, timeout, connection: Claude's failure
            breaker.record_failure()
        else:                    # Claude refused this request: no verdict on its health
            breaker.record_neutral()
        raise  # or answer offline
    breaker.record_success()

Record only failures on the provider's side. A 4xx the request itself caused (a prompt too
large, a malformed request) says nothing about Claude's health, and counting it would let
one user switch Claude off for everyone (chat.providers.ProviderFailed.provider_side).

State lives in the default cache's Redis database (raw keys, outside Django's cache
key scheme) under `theo:breaker:<name>:`:

    failures   consecutive failures (INCR)
    opened_at  when the breaker opened (absent while closed)
    trial      the half-open trial's token, SET NX with an expiry: held by one caller

Every transition is one Lua script, so concurrent processes never see half an update.
If Redis is unreachable the breaker fails open: calls are allowed and a warning is logged.
redis-py retries a refused connection for seconds, so after a failure allow() and
record_*() leave Redis alone for REDIS_RETRY_SECONDS (per process and breaker) instead of
adding that wait to every call; state() and snapshot() always ask.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
import structlog
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from apps.core.redis import redis_client

logger = structlog.get_logger(__name__)

KEY_PREFIX = "theo:breaker"
CLAUDE = "claude"
# After Redis failed, allow() / record_*() fail open without trying it for this long.
REDIS_RETRY_SECONDS = 15.0
# With Redis down every call would warn: once per breaker per this many seconds is enough.
_WARN_EVERY_SECONDS = 60.0
_last_warned: dict[str, float] = {}
_skip_redis_until: dict[str, float] = {}
_monotonic = time.monotonic


@receiver(setting_changed)
def _forget_redis_failures(*, setting: str, **kwargs: Any) -> None:
    # Tests point CACHES at a dead Redis and back: the next test asks the real one again.
    if setting == "CACHES":
        _skip_redis_until.clear()
        _last_warned.clear()


class BreakerState(enum.Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


# KEYS: failures, opened_at, trial. ARGV: now, reset_seconds, trial_ms, token.
# Returns 1 (closed: allowed), 2 (this caller holds the half-open trial) or 0 (refused).
_ALLOW = """
local opened = redis.call('GET', KEYS[2])
if not opened then return 1 end
if tonumber(ARGV[1]) < tonumber(opened) + tonumber(ARGV[2]) then return 0 end
if redis.call('SET', KEYS[3], ARGV[4], 'NX', 'PX', ARGV[3]) then return 2 end
return 0
"""

# KEYS: failures, opened_at, trial. ARGV: now, reset_seconds, threshold.
# Returns {consecutive failures, 0 unchanged | 1 opened | 2 re-opened after the half-open trial}.
_FAILURE = """
local failures = redis.call('INCR', KEYS[1])
local opened = redis.call('GET', KEYS[2])
if opened then
  if tonumber(ARGV[1]) >= tonumber(opened) + tonumber(ARGV[2]) then
    redis.call('SET', KEYS[2], ARGV[1])
    redis.call('DEL', KEYS[3])
    return {failures, 2}
  end
  return {failures, 0}
end
if failures >= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[1])
  return {failures, 1}
end
return {failures, 0}
"""

# KEYS: failures, opened_at, trial. ARGV: now, reset_seconds. Returns 1 if a trial was released.
_NEUTRAL = """
local opened = redis.call('GET', KEYS[2])
if not opened or tonumber(ARGV[1]) < tonumber(opened) + tonumber(ARGV[2]) then return 0 end
return redis.call('DEL', KEYS[3])
"""

# KEYS: failures, opened_at, trial. Returns 1 if the breaker was open (or half-open).
_SUCCESS = """
local was_open = redis.call('EXISTS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return was_open
"""

_REDIS_ERRORS = (redis.RedisError, OSError)


# Every breaker created in this process, by name (the latest instance): /metrics reports them.
_KNOWN: dict[str, CircuitBreaker] = {}


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 60,
        clock: Callable[[], float] = time.time,
        trial_timeout: float | None = None,
        client: Callable[[], redis.Redis] = redis_client,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_seconds = float(reset_seconds)
        self.clock = clock
        # A trial whose caller never reports (crashed, killed) expires: then another caller tries.
        self.trial_timeout = float(trial_timeout if trial_timeout is not None else reset_seconds)
        self._client = client
        prefix = f"{KEY_PREFIX}:{name}:"
        self._keys = [prefix + "failures", prefix + "opened_at", prefix + "trial"]
        _KNOWN[name] = self

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} threshold={self.failure_threshold} reset={self.reset_seconds}s>"

    # --- calls ---------------------------------------------------------------------

    def allow(self) -> bool:
        """May a call go through? Closed: yes. Open: no, until reset_seconds have passed;
        then one caller across all processes gets True (the half-open trial), the others
        False until the trial reports with record_success() / record_failure()."""
        trial_ms = max(1, int(self.trial_timeout * 1000))
        outcome = self._script(
            "allow", _ALLOW, repr(self.clock()), repr(self.reset_seconds), trial_ms, uuid.uuid4().hex
        )
        if outcome is None:
            return True
        if int(outcome) == 2:
            logger.info("circuit_breaker_trial", breaker=self.name)
        return int(outcome) != 0

    def record_success(self) -> None:
        """The call worked: close the breaker and forget earlier failures."""
        was_open = self._script("record_success", _SUCCESS)
        if was_open is not None and int(was_open):
            logger.info("circuit_breaker_closed", breaker=self.name)

    def record_failure(self) -> None:
        """The call failed: count it; open at the threshold; a failed half-open trial re-opens."""
        outcome = self._script(
            "record_failure", _FAILURE, repr(self.clock()), repr(self.reset_seconds), self.failure_threshold
        )
        if outcome is None:
            return
        failures, transition = outcome
        if int(transition) == 1:
            logger.warning(
                "circuit_breaker_opened",
                breaker=self.name,
                consecutive_failures=int(failures),
                reset_seconds=self.reset_seconds,
            )
        elif int(transition) == 2:
            logger.warning("circuit_breaker_reopened", breaker=self.name, consecutive_failures=int(failures))

    def record_neutral(self) -> None:
        """The call ended without a verdict on the provider's health (it refused this one
        request): counts stay as they are, but a half-open trial is given up, so the next
        caller makes the trial instead of everyone waiting out the trial's expiry."""
        released = self._script("record_neutral", _NEUTRAL, repr(self.clock()), repr(self.reset_seconds))
        if released is not None and int(released):
            logger.info("circuit_breaker_trial_released", breaker=self.name)

    def _script(self, operation: str, script: str, *args: Any) -> Any:
        """Run one of the Lua scripts on the breaker's keys; None while Redis is skipped or
        when it fails (the breaker fails open: the caller allows the call)."""
        if self._redis_skipped():
            return None
        try:
            return self._client().register_script(script)(keys=self._keys, args=list(args))
        except _REDIS_ERRORS as exc:
            self._warn_unavailable(operation, exc)
            return None

    def reset(self) -> None:
        """Close the breaker and clear its counters (e.g. an operator after fixing the API key)."""
        try:
            self._client().delete(*self._keys)
        except _REDIS_ERRORS as exc:
            self._warn_unavailable("reset", exc)

    # --- state ---------------------------------------------------------------------

    def state(self) -> BreakerState:
        """The shared state; CLOSED when Redis cannot be read (the breaker fails open)."""
        return BreakerState(self.snapshot()["state"])

    def snapshot(self) -> dict[str, Any]:
        """State for /health and /metrics. Times are Unix timestamps (the breaker's clock).
        When Redis cannot be read: state "closed" (calls are allowed) and an "error"."""
        try:
            failures, opened_at, trial = self._client().mget(self._keys)
        except _REDIS_ERRORS as exc:
            self._warn_unavailable("snapshot", exc)
            return {
                "name": self.name,
                "state": BreakerState.CLOSED.value,
                "consecutive_failures": 0,
                "opened_at": None,
                "retry_at": None,
                "trial_in_progress": False,
                "error": f"Redis unavailable: {type(exc).__name__}: {exc}"[:300],
            }
        opened = float(opened_at) if opened_at is not None else None
        retry_at = opened + self.reset_seconds if opened is not None else None
        if opened is None or retry_at is None:
            state = BreakerState.CLOSED
        elif self.clock() < retry_at:
            state = BreakerState.OPEN
        else:
            state = BreakerState.HALF_OPEN
        return {
            "name": self.name,
            "state": state.value,
            "consecutive_failures": int(failures or 0),
            "opened_at": opened,
            "retry_at": retry_at,
            "trial_in_progress": trial is not None,
        }

    def _redis_skipped(self) -> bool:
        return _monotonic() < _skip_redis_until.get(self.name, float("-inf"))

    def _warn_unavailable(self, operation: str, exc: BaseException) -> None:
        now = _monotonic()
        _skip_redis_until[self.name] = now + REDIS_RETRY_SECONDS
        last = _last_warned.get(self.name)
        if last is None or now - last >= _WARN_EVERY_SECONDS:
            _last_warned[self.name] = now
            logger.warning(
                "circuit_breaker_redis_unavailable",
                breaker=self.name,
                operation=operation,
                error=f"{type(exc).__name__}: {exc}",
                detail="failing open: calls are allowed",
            )


def claude_breaker() -> CircuitBreaker:
    """The breaker in front of Claude, configured from settings (state is shared, so a
    fresh instance per call is fine)."""
    return CircuitBreaker(
        CLAUDE,
        failure_threshold=int(getattr(settings, "LLM_BREAKER_FAILURES", 5)),
        reset_seconds=float(getattr(settings, "LLM_BREAKER_RESET_SECONDS", 60)),
    )


def known_breakers() -> list[CircuitBreaker]:
    """The Claude breaker plus every other breaker this process has created (for /metrics)."""
    breakers = {CLAUDE: claude_breaker()}
    for name, breaker in list(_KNOWN.items()):
        breakers.setdefault(name, breaker)
    return list(breakers.values())


def health_check() -> Any:
    """/health: informational. An open breaker means offline (degraded) answers, not an
    unhealthy server, so the check passes and reports the state in its details."""
    from apps.core.health import FAIL, OK, CheckResult

    snapshot = claude_breaker().snapshot()
    error = snapshot.pop("error", "")
    snapshot.pop("name")
    status = FAIL if error else OK
    return CheckResult(status, detail=error, extra=snapshot)
