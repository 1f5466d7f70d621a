"""Sign-in throttling on every sign-in route (the page and the token API): brute force stays
limited, yet nobody can lock another person out by typing wrong passwords for them."""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from apps.users.models import User
from tests.helpers import assert_error
from tests.users.factories import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
LOGIN = "/accounts/login/"
WRONG = "wrong password!"


def api_sign_in(client, email, password=PASSWORD, ip="10.0.0.1"):
    response = client.post(TOKEN, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)
    return {200: "ok", 401: "wrong", 403: "refused", 429: "limited"}.get(response.status_code, response.status_code)


def page_sign_in(client, email, password=PASSWORD, ip="10.0.0.1"):
    response = client.post(LOGIN, {"email": email, "password": password}, REMOTE_ADDR=ip)
    client.logout()
    return {302: "ok", 400: "wrong", 429: "limited"}.get(response.status_code, response.status_code)


@pytest.fixture(params=["api", "page"])
def attempt(request, api_client, client):
    """One sign-in attempt through either route; both must behave the same."""
    if request.param == "api":
        return lambda *args, **kwargs: api_sign_in(api_client, *args, **kwargs)
    return lambda *args, **kwargs: page_sign_in(client, *args, **kwargs)


@pytest.fixture
def rates(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "5/m", "login_address": "8/h", "login_account": "12/h"}
    return settings.RATE_LIMITS


# --- brute force is limited ---------------------------------------------------------


def test_five_wrong_passwords_stop_that_address_for_that_account(attempt, rates, user):
    assert [attempt(user.email, WRONG, ip="203.0.113.1") for _ in range(5)] == ["wrong"] * 5
    # The right password is refused too: the throttle does not tell a guesser when it hit.
    assert attempt(user.email, ip="203.0.113.1") == "limited"


def test_the_refusal_says_when_to_try_again(api_client, rates, user):
    for _ in range(5):
        api_sign_in(api_client, user.email, WRONG)
    response = api_client.post(TOKEN, {"email": user.email, "password": WRONG}, format="json", REMOTE_ADDR="10.0.0.1")
    error = assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Try again in" in error["message"]


def test_one_address_spraying_many_accounts_is_stopped(attempt, rates, make_user):
    users = [make_user() for _ in range(9)]
    assert [attempt(u.email, WRONG, ip="203.0.113.2") for u in users[:8]] == ["wrong"] * 8
    assert attempt(users[8].email, ip="203.0.113.2") == "limited"


def test_unknown_accounts_count_as_failures_too(attempt, rates, user):
    for n in range(8):
        assert attempt(f"nobody{n}@example.org", WRONG, ip="203.0.113.3") == "wrong"
    assert attempt(user.email, ip="203.0.113.3") == "limited"


def test_many_addresses_on_one_account_stop_addresses_it_never_signed_in_from(attempt, rates, user):
    for n in range(12):
        assert attempt(user.email, WRONG, ip=f"198.51.100.{n}") == "wrong"
    assert attempt(user.email, ip="198.51.100.200") == "limited"


def test_an_ipv6_attacker_cannot_rotate_addresses_inside_one_slash_64(attempt, rates, user):
    for n in range(5):
        assert attempt(user.email, WRONG, ip=f"2001:db8:1:2::{n + 1:x}") == "wrong"
    assert attempt(user.email, ip="2001:db8:1:2::ffff") == "limited"


# --- nobody can lock anyone out -----------------------------------------------------


def test_wrong_passwords_from_another_address_do_not_lock_the_owner_out(attempt, rates, user):
    for _ in range(20):
        attempt(user.email, WRONG, ip="203.0.113.66")
    assert attempt(user.email, WRONG, ip="203.0.113.66") == "limited"  # the attacker waits
    assert attempt(user.email, ip="192.0.2.10") == "ok"  # the owner, from an address that never failed


def test_a_known_address_gets_in_while_the_account_is_under_attack(attempt, rates, user):
    assert attempt(user.email, ip="192.0.2.10") == "ok"  # the owner's usual address
    for n in range(30):
        attempt(user.email, WRONG, ip=f"198.51.100.{n}")
    assert attempt(user.email, ip="198.51.100.250") == "limited"
    assert attempt(user.email, ip="192.0.2.10") == "ok"


def test_successful_sign_ins_never_count(attempt, rates, user):
    assert [attempt(user.email, ip="192.0.2.10") for _ in range(15)] == ["ok"] * 15


def test_a_correct_password_clears_the_failures_of_that_address(attempt, rates, user):
    for _ in range(3):
        assert attempt(user.email, WRONG, ip="192.0.2.10") == "wrong"
    assert attempt(user.email, ip="192.0.2.10") == "ok"
    for _ in range(4):  # four typos again: not locked, the earlier three were forgiven
        assert attempt(user.email, WRONG, ip="192.0.2.10") == "wrong"
    assert attempt(user.email, ip="192.0.2.10") == "ok"


def test_a_pending_account_with_the_right_password_is_told_its_status_not_throttled(api_client, rates, make_user):
    user = make_user(status="pending")
    assert [api_sign_in(api_client, user.email) for _ in range(10)] == ["refused"] * 10


# --- parallel guesses ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_cannot_all_pass_one_check(monkeypatch, rates, user):
    """Ten guesses at once from one address: only the five the limit allows are even
    checked; each attempt is counted before its password is, so none slips through."""
    reached_the_password = threading.Barrier(10, timeout=3)
    original = User.check_password

    def check_when_all_arrive(self, raw_password):
        with contextlib.suppress(threading.BrokenBarrierError):
            reached_the_password.wait()
        return original(self, raw_password)

    monkeypatch.setattr(User, "check_password", check_when_all_arrive)
    outcomes: list = []

    def guess() -> None:
        try:
            outcomes.append(api_sign_in(APIClient(), user.email, WRONG, ip="203.0.113.9"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["limited"] * 5 + ["wrong"] * 5
