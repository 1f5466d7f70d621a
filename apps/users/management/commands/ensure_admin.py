"""Create the first admin from THEO_ADMIN_EMAIL / THEO_ADMIN_PASSWORD (run on every start)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.users.models import User
from apps.users.services import ensure_initial_admin


class Command(BaseCommand):
    help = "Create the admin named by THEO_ADMIN_EMAIL / THEO_ADMIN_PASSWORD if it does not exist (race-safe)."

    def handle(self, *args: Any, **options: Any) -> None:
        email, password = settings.INITIAL_ADMIN_EMAIL, settings.INITIAL_ADMIN_PASSWORD
        if email and password:
            ensure_initial_admin(email=email, password=password)
        elif not User.objects.filter(role=User.Role.ADMIN, status=User.Status.APPROVED).exists():
            self.stdout.write(
                self.style.WARNING(
                    "No admin account yet: set THEO_ADMIN_EMAIL and THEO_ADMIN_PASSWORD, "
                    "or run `.venv/bin/python manage.py createsuperuser`."
                )
            )
