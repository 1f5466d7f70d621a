"""Sign-in throttle: brute force stays slow without handing anyone a lock-out lever.

Only wrong passwords count (a correct one, or a refused attempt, never does; each attempt
is counted up front and taken back when it turns out right), in three windows on the
shared cache (settings.RATE_LIMITS; docs/security.md explains the choice):

- `login` (THEO_LOGIN_RATE, 5/m): wrong passwords for one account from one address.
  Past it, that address waits before trying that account again; a correct password
  clears it.
- `login_address` (THEO_LOGIN_ADDRESS_RATE, 20/h): wrong passwords from one address for
  any accounts (password spraying). Only that address waits.
- `login_account` (THEO_LOGIN_ACCOUNT_RATE, 50/h): wrong passwords for one account from
  all addresses (a distributed attack). Past it, only addresses this account signed in
  from before (remembered 30 days) may still try; every other address waits.

So someone who types wrong passwords for your account from their address locks out
their address, not you: you sign in from yours.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

from apps.core.errors import RateLimited
from apps.core.ratelimits import (
    address_group,
    failure_forget,
    failure_record,
    failures_clear,
    failures_get,
    parse_rate,
)

KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600
MESSAGE = "Too many wrong passwords. Try again in {wait}."


def _pair(email: str, group: str) -> str:
    return f"{email}|{group}"


def _known_key(email: str, group: str) -> str:
    return "theo:signin-known:" + hashlib.sha256(_pair(email, group).encode()).hexdigest()


def _wait(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return (
        f"{seconds} second{'s' if seconds != 1 else ''}"
        if seconds < 60
        else f"{minutes} minute{'s' if minutes != 1 else ''}"
    )


def _counters(email: str, group: str) -> list[tuple[str, str]]:
    return [("login", _pair(email, group)), ("login_address", group), ("login_account", email)]


def signin_attempt(*, email: str, address: str) -> None:
    """Count this attempt as a failure up front (an atomic INCR, so parallel guesses cannot
    all pass one check before any is counted); refuse it, taking the count back, if that
    goes past a limit. signin_succeeded takes it back for a correct password.

    Raises RateLimited (429, Retry-After) if this address may not try this account now."""
    group = address_group(address)
    rates = settings.RATE_LIMITS
    known = bool(cache.get(_known_key(email, group)))
    refusal: tuple[str, int] | None = None
    for scope, key in _counters(email, group):
        count = failure_record(scope=scope, key=key, rate=rates[scope])
        if count > parse_rate(rates[scope])[0] and not (scope == "login_account" and known) and refusal is None:
            refusal = (scope, failures_get(scope=scope, key=key, rate=rates[scope])[1])
    if refusal is not None:
        for scope, key in _counters(email, group):
            failure_forget(scope=scope, key=key, rate=rates[scope])
        raise RateLimited(MESSAGE.format(wait=_wait(refusal[1])), retry_after=refusal[1])


def signin_succeeded(*, email: str, address: str, remember: bool) -> None:
    """A correct password: this attempt was no failure, and the earlier failures of this
    account from this address are forgiven. `remember` (an approved sign-in) makes the
    address one this account may use while it is under attack."""
    group = address_group(address)
    rates = settings.RATE_LIMITS
    failures_clear(scope="login", key=_pair(email, group), rate=rates["login"])
    failure_forget(scope="login_address", key=group, rate=rates["login_address"])
    failure_forget(scope="login_account", key=email, rate=rates["login_account"])
    if remember:
        cache.set(_known_key(email, group), 1, timeout=KNOWN_ADDRESS_SECONDS)
