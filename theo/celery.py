"""The Celery application: configured from Django settings (CELERY_*), tasks autodiscovered."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")

app = Celery("theo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _refuse_weak_secrets(**kwargs: object) -> None:
    from apps.core.checks import refuse_to_start_with_weak_secrets

    refuse_to_start_with_weak_secrets()
