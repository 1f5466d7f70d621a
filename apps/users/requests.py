"""Request types of views only signed-in accounts reach (login_required, IsAuthenticated or
stricter, the admin site): there `request.user` is a User, never AnonymousUser. Annotations only;
Django and DRF build the real requests."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from apps.users.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User


class AuthenticatedRequest(Request):
    user: User
