"""WSGI entry point (HTTP only; Theo is normally served by daphne through asgi.py)."""

import os

from django.core.wsgi import get_wsgi_application

from apps.core.embedded import ensure_services

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")
ensure_services()  # the embedded PostgreSQL and Redis, and generated keys, before Django starts
application = get_wsgi_application()
