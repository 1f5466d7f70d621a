"""Every API route × every method × a pending, denied and suspended account: refused.

The routes come from Django's URL resolver, not a hand list, so a route added tomorrow is
covered the day it appears. Each account holds a valid access token (and, separately, a
session) and owns a document, a conversation and a knowledge entry, so a refusal cannot
be mistaken for "not found": the token gets 403 `account_<status>`, the session 401
`not_authenticated`, and nothing the account owns changes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from apps.chat.models import Conversation
from apps.documents.models import Document
from apps.knowledge.models import KnowledgeEntry
from apps.users.models import User
from tests.documents.factories import CompletedDocumentFactory
from tests.helpers import assert_error, bearer
from tests.knowledge.factories import EntryFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

API_PREFIX = "api/v1/"
METHODS = ("get", "head", "options", "post", "put", "patch", "delete")

# Routes anyone may call, with why. Each must ignore credentials entirely (no
# authentication classes, AllowAny), which test_public_routes_ignore_credentials checks.
PUBLIC_ROUTES = {
    "api/v1/auth/register/": "asking for an account is what a person without one does",
    "api/v1/auth/token/": "signing in; the service refuses non-approved accounts after the password",
    "api/v1/auth/token/refresh/": "the refresh token is the credential; non-approved accounts get 403",
    "api/v1/auth/logout/": "blacklisting one's own refresh token must work in any account state",
}


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def view_class(pattern: URLPattern) -> Any:
    return getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)


def api_routes() -> list[tuple[str, URLPattern]]:
    return [(route, pattern) for route, pattern in walk(get_resolver().url_patterns) if route.startswith(API_PREFIX)]


def methods_of(pattern: URLPattern) -> list[str]:
    cls = view_class(pattern)
    assert cls is not None, f"{pattern} is not a class-based view: list its methods here"
    return [m for m in METHODS if hasattr(cls, m) or (m == "head" and hasattr(cls, "get"))]


GUARDED = [
    (route, method) for route, pattern in api_routes() if route not in PUBLIC_ROUTES for method in methods_of(pattern)
]


def test_the_resolver_finds_the_api():
    routes = {route for route, _ in api_routes()}
    assert len(routes) >= 30
    assert {"api/v1/auth/me/", "api/v1/documents/<uuid:pk>/", "api/v1/chat/conversations/<uuid:pk>/"} <= routes
    assert set(PUBLIC_ROUTES) <= routes, "an allow-listed route no longer exists"


@pytest.mark.parametrize("route", list(PUBLIC_ROUTES))
def test_public_routes_ignore_credentials(route):
    pattern = dict(api_routes())[route]
    cls = view_class(pattern)
    assert list(cls.authentication_classes) == []
    assert list(cls.permission_classes) == [AllowAny]


@pytest.fixture(params=["pending", "denied", "suspended"])
def refused(request) -> dict[str, Any]:
    """An account that may not sign in, owning one of everything (from when it could)."""
    user = UserFactory(status=User.Status.APPROVED, role=User.Role.ADMIN)
    owned = {
        "documents": CompletedDocumentFactory(owner=user),
        "conversations": Conversation.objects.create(owner=user, title="My questions"),
        "entries": EntryFactory(author=user),
        "users": user,
    }
    user.status = request.param
    user.denial_reason = "" if request.param == "pending" else "Because"
    user.save(update_fields=["status", "denial_reason"])
    return {"user": user, "status": request.param, "owned": owned}


def concrete_url(route: str, owned: dict[str, Any]) -> str:
    """The route with its converters filled in: the account's own object where the route
    names a kind it owns, a random id otherwise."""
    kind = next((k for k in owned if f"/{k}/<" in f"/{route}"), None)

    def fill(match: re.Match[str]) -> str:
        converter = match.group(1) or "str"
        if converter == "uuid":
            return str(owned[kind].pk) if kind else str(uuid.uuid4())
        if converter == "int":
            return "1"
        return "x"

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", fill, route)


def snapshot(owned: dict[str, Any]) -> dict[str, Any]:
    return {
        "documents": Document.objects.filter(pk=owned["documents"].pk).values().first(),
        "conversations": Conversation.objects.filter(pk=owned["conversations"].pk).values().first(),
        "entries": KnowledgeEntry.objects.filter(pk=owned["entries"].pk).values().first(),
        "users": User.objects.filter(pk=owned["users"].pk).values("status", "role", "display_name").first(),
    }


def call(client: APIClient, method: str, url: str) -> Any:
    if method in ("get", "head", "options", "delete"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, {}, format="json")


@pytest.mark.parametrize(("route", "method"), GUARDED)
def test_a_token_of_an_account_that_may_not_sign_in_is_refused(refused, route, method):
    url = concrete_url(route, refused["owned"])
    before = snapshot(refused["owned"])
    client = APIClient()
    client.credentials(**bearer(refused["user"]))

    response = call(client, method, url)

    if method == "head":
        assert response.status_code == 403
    else:
        error = assert_error(response, 403, f"account_{refused['status']}")
        assert error["details"]["status"] == refused["status"]
    assert snapshot(refused["owned"]) == before


@pytest.mark.parametrize(("route", "method"), GUARDED)
def test_a_session_of_an_account_that_may_not_sign_in_is_refused(refused, route, method):
    url = concrete_url(route, refused["owned"])
    before = snapshot(refused["owned"])
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(refused["user"])

    response = call(client, method, url)

    if method == "head":
        assert response.status_code == 401
    else:
        assert_error(response, 401, "not_authenticated")
    assert snapshot(refused["owned"]) == before
