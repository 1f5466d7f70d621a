"""Two concurrent refreshes of one refresh token: only one succeeds (real requests in two
threads, each with its own PostgreSQL connection)."""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import BlacklistMixin, RefreshToken

from tests.helpers import assert_error

REFRESH = "/api/v1/auth/token/refresh/"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_of_one_token_only_one_succeeds(monkeypatch, user):
    refresh = str(RefreshToken.for_user(user))
    both_read = threading.Barrier(2)
    original = BlacklistMixin.check_blacklist

    def check_then_wait(self) -> None:
        original(self)
        # Both requests have seen the token as unused before either writes anything.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait(timeout=2)

    monkeypatch.setattr(BlacklistMixin, "check_blacklist", check_then_wait)
    responses: list = []

    def use_it() -> None:
        try:
            responses.append(APIClient().post(REFRESH, {"refresh": refresh}, format="json"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=use_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(r.status_code for r in responses) == [200, 401], [r.content for r in responses]
    winner = next(r for r in responses if r.status_code == 200)
    loser = next(r for r in responses if r.status_code == 401)
    assert_error(loser, 401, "token_not_valid")
    assert BlacklistedToken.objects.filter(token__jti=RefreshToken(winner.json()["refresh"])["jti"]).count() == 0
    # The winner's new refresh token works; the old one stays spent.
    assert APIClient().post(REFRESH, {"refresh": winner.json()["refresh"]}, format="json").status_code == 200
    assert APIClient().post(REFRESH, {"refresh": refresh}, format="json").status_code == 401


@pytest.mark.django_db
def test_refresh_of_a_token_issued_elsewhere_still_rotates(api_client, user):
    """A valid token without an OutstandingToken row (issued before the blacklist app, or
    by another process that lost its row) is recorded, then blacklisted on use."""
    token = RefreshToken.for_user(user)
    OutstandingToken.objects.filter(jti=token["jti"]).delete()
    assert api_client.post(REFRESH, {"refresh": str(token)}, format="json").status_code == 200
    assert api_client.post(REFRESH, {"refresh": str(token)}, format="json").status_code == 401
