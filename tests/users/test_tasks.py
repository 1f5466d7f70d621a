"""The daily clean-up of expired refresh tokens, and its place in the beat schedule."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.users.tasks import flush_expired_tokens_task
from theo.celery import app as celery_app

pytestmark = pytest.mark.django_db

REFRESH = "/api/v1/auth/token/refresh/"


def expired_token(user, *, days_ago: int = 1) -> OutstandingToken:
    jti = uuid.uuid4().hex
    return OutstandingToken.objects.create(
        user=user,
        jti=jti,
        token=f"expired.{jti}",
        created_at=timezone.now() - timedelta(days=days_ago + 1),
        expires_at=timezone.now() - timedelta(days=days_ago),
    )


def test_flush_removes_expired_tokens_and_keeps_live_ones(user):
    expired = [expired_token(user, days_ago=n) for n in (1, 30)]
    expired_and_blacklisted = expired_token(user)
    BlacklistedToken.objects.create(token=expired_and_blacklisted)
    live = RefreshToken.for_user(user)
    logged_out = RefreshToken.for_user(user)
    logged_out.blacklist()

    flush_expired_tokens_task()

    remaining = set(OutstandingToken.objects.filter(user=user).values_list("jti", flat=True))
    assert remaining == {live["jti"], logged_out["jti"]}
    assert not OutstandingToken.objects.filter(pk__in=[t.pk for t in [*expired, expired_and_blacklisted]]).exists()
    # A live token that was signed out stays refused; the live one still works.
    assert BlacklistedToken.objects.filter(token__jti=logged_out["jti"]).exists()
    client = APIClient()
    assert client.post(REFRESH, {"refresh": str(logged_out)}, format="json").status_code == 401
    assert client.post(REFRESH, {"refresh": str(live)}, format="json").status_code == 200


def test_flush_with_nothing_to_do_keeps_everything(user):
    live = RefreshToken.for_user(user)
    flush_expired_tokens_task()
    assert list(OutstandingToken.objects.filter(user=user).values_list("jti", flat=True)) == [live["jti"]]


def test_flush_runs_as_a_celery_task(user):
    expired = expired_token(user)
    result = flush_expired_tokens_task.apply()
    assert result.successful()
    assert not OutstandingToken.objects.filter(pk=expired.pk).exists()


def test_beat_runs_the_flush_daily():
    entries = [
        entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == flush_expired_tokens_task.name
    ]
    assert len(entries) == 1
    assert flush_expired_tokens_task.name == "apps.users.tasks.flush_expired_tokens_task"
    schedule = entries[0]["schedule"]
    if isinstance(schedule, timedelta):
        assert schedule == timedelta(days=1)
    else:  # a crontab: once a day
        assert len(schedule.hour) == 1 and len(schedule.minute) == 1
        assert len(schedule.day_of_month) == 31 and len(schedule.day_of_week) == 7
    # Celery reads the same schedule (CELERY_ namespace) and knows the task by that name.
    assert celery_app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE
    assert flush_expired_tokens_task.name in celery_app.tasks
