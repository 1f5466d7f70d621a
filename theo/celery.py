"""The Celery application: configured from Django settings (CELERY_*), tasks autodiscovered."""

from __future__ import annotations

import os
import sys

from celery import Celery
from celery.signals import beat_init, import_modules, worker_init

from apps.core import health

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")


def _ensure_services(**kwargs: object) -> None:
    """The embedded PostgreSQL and Redis, and generated keys, for a worker or beat: both send
    import_modules when they start (loader.init_worker), before they set Django up. Not at
    import: importing theo (and so this module) must start nothing."""
    from apps.core.embedded import ensure_services

    ensure_services()


# Connected before the app exists, so it runs before the receiver Celery's Django fix-up
# connects when the app is created (which calls django.setup() and the system checks).
import_modules.connect(_ensure_services)

app = Celery("theo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
health.celery_app_register(app)  # /health pings this app's workers


@worker_init.connect
@beat_init.connect
def _refuse_weak_secrets(**kwargs: object) -> None:
    """Celery logs and swallows an exception from a signal handler (the worker would start
    anyway), so a refusal exits here, with what to set on stderr."""
    from django.core.exceptions import ImproperlyConfigured

    from apps.core.checks import refuse_to_start_with_weak_secrets

    try:
        refuse_to_start_with_weak_secrets()
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"Theo refuses to start: {exc}\n")
        raise SystemExit(1) from exc
