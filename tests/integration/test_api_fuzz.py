"""API fuzzing: schemathesis against /api/schema/ of a live Theo, every operation, as an
approved user and as staff. No 5xx, and every response (errors included) matches the
schema: status code, content type, headers, body.

Bounded for CI: THEO_FUZZ_EXAMPLES examples per operation in the fuzzing phase (default
25) plus the examples and coverage phases, seeded and deterministic. A longer hunt:
`THEO_FUZZ_EXAMPLES=200 .venv/bin/python -m pytest tests/integration/test_api_fuzz.py`;
THEO_FUZZ_ACCEPTANCE=1 also fails operations that refuse data the schema allows.

Rate limits stay as configured (their 429s are documented and checked); each test (one
per operation and role) starts with fresh counters (tests/conftest.py clears the cache).
Half of the generated ids are swapped for real ones the account may reach (a document,
a conversation, an entry, a user), the other half stay random (404s must conform too);
logout and token refresh get a fresh refresh token of their own half of the time.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.management import call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from drf_spectacular.generators import SchemaGenerator
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.chat.models import Conversation
from apps.documents.models import Document
from apps.users.models import User
from tests.documents.factories import CompletedDocumentFactory, NoteFactory
from tests.integration.live_server import live_theo, server_log_tail  # noqa: F401 - fixture
from tests.knowledge.factories import EntryFactory
from tests.users.factories import PASSWORD, UserFactory

# The django_db mark makes pytest-django set the test database up; the test's own
# transaction stays empty: what the live server must see is written in autocommit,
# by the module fixture or (during a test) in a thread of its own (`_committed`).
pytestmark = [pytest.mark.integration, pytest.mark.django_db]

EXAMPLES = int(os.environ.get("THEO_FUZZ_EXAMPLES", "25"))
TOKEN_REFRESH_SECONDS = 10 * 60
SEED = int(os.environ.get("THEO_FUZZ_SEED", "20261201"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
if os.environ.get("THEO_FUZZ_ACCEPTANCE"):  # also: valid data per the schema must be accepted (2xx)
    CHECKS.append(positive_data_acceptance)


def served_schema() -> dict[str, Any]:
    """What /api/schema/ serves (test_the_live_server_serves_this_schema checks it is)."""
    return SchemaGenerator().get_schema(request=None, public=True)


def _load() -> Any:
    loaded = schemathesis.openapi.from_dict(json.loads(json.dumps(served_schema(), cls=DjangoJSONEncoder)))
    loaded.config.update(request_timeout=20)
    loaded.config.seed = SEED
    loaded.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    loaded.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        max_examples=EXAMPLES,
        deterministic=True,
        no_shrink=True,
    )
    return loaded


schema = _load()


@dataclass
class Account:
    base: str
    user: User
    access: str = ""
    issued: float = 0.0
    # path prefix -> an object this account may reach (made again if a DELETE took it)
    objects: dict[str, Any] = field(default_factory=dict)

    @property
    def token(self) -> str:
        """An access token from the API (they live 15 minutes: a long run signs in again)."""
        if time.monotonic() - self.issued > TOKEN_REFRESH_SECONDS:
            body = {"email": self.user.email, "password": PASSWORD}
            self.access = _post_json(f"{self.base}/api/v1/auth/token/", body)["access"]
            self.issued = time.monotonic()
        return self.access

    def real_id(self, prefix: str) -> str:
        found = self.objects[prefix]
        if not type(found).objects.filter(pk=found.pk).exists():
            found = self.objects[prefix] = MAKERS[prefix](self.user)
        return str(found.pk)


def _document(user: User) -> Document:
    document = CompletedDocumentFactory(owner=user)
    NoteFactory(document=document, author=user)
    return document


MAKERS: dict[str, Callable[[User], Any]] = {
    "/api/v1/documents/": _document,
    "/api/v1/chat/conversations/": lambda user: Conversation.objects.create(owner=user, title="Romans 8"),
    "/api/v1/knowledge/entries/": lambda user: EntryFactory(author=user),
    "/api/v1/admin/users/": lambda user: UserFactory(email=_email(), status=User.Status.PENDING),
}


def _email() -> str:
    return f"fuzz-{os.urandom(6).hex()}@example.org"


def _post_json(url: str, data: dict[str, Any], timeout: float = 10) -> Any:
    request = urllib.request.Request(url, data=json.dumps(data).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


_warmed_up: set[str] = set()


def _warm_up(base: str, token: str) -> None:
    """The first search loads the embedding model (the server is in test mode: no warm-up)."""
    if base not in _warmed_up:
        request = urllib.request.Request(f"{base}/api/v1/search/?q=grace", headers={"Authorization": f"Bearer {token}"})
        urllib.request.urlopen(request, timeout=300).close()
        _warmed_up.add(base)


def _account(base: str, **fields: Any) -> Account:
    user = UserFactory(email=_email(), **fields)
    account = Account(base=base, user=user, objects={prefix: make(user) for prefix, make in MAKERS.items()})
    _warm_up(base, account.token)
    return account


def _half(value: Any) -> bool:
    """A deterministic coin per generated value: the same case always gets the same side."""
    return hashlib.sha256(repr(value).encode()).digest()[0] % 2 == 0


def _aim(case: Any, account: Account) -> None:
    path_id = (case.path_parameters or {}).get("id")
    if path_id is not None and _half(path_id):
        prefix = next((prefix for prefix in MAKERS if case.path.startswith(prefix)), None)
        if prefix is not None:
            case.path_parameters["id"] = account.real_id(prefix)
            if case.path.endswith("/progress/"):  # a finished document: its stream ends at once
                Document.objects.filter(pk=case.path_parameters["id"]).update(
                    status=Document.Status.COMPLETED, stage=Document.Stage.DONE
                )
    body = case.body
    refreshes = case.path in ("/api/v1/auth/logout/", "/api/v1/auth/token/refresh/")
    if refreshes and isinstance(body, dict) and _half(body):
        body["refresh"] = str(RefreshToken.for_user(account.user))
    if case.path == "/api/v1/auth/token/" and isinstance(body, dict) and _half(body):
        body.update(email=account.user.email, password=PASSWORD)


def _committed(work: Callable[[], None]) -> None:
    """Run `work` on a connection of its own, outside the test's transaction."""

    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(run).result()


def _fuzz(case: Any, account: Account) -> None:
    _committed(lambda: _aim(case, account))
    try:
        case.call_and_validate(
            base_url=account.base, headers={"Authorization": f"Bearer {account.token}"}, checks=CHECKS
        )
    except Exception as failure:
        failure.add_note(f"--- the server's log ---\n{server_log_tail(account.base)}")
        raise


FUZZ_SETTINGS = hypothesis.settings(
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
    derandomize=True,
)


@pytest.fixture(scope="module")
def accounts(live_theo: str, django_db_blocker: Any) -> Iterator[dict[str, Account]]:  # noqa: F811
    """An approved user and a staff member with objects of their own, committed for the
    live server (once for the module: the fuzz tests only speak HTTP); flushed after."""
    with django_db_blocker.unblock():
        yield {"user": _account(live_theo), "staff": _account(live_theo, role=User.Role.ADMIN)}
        call_command("flush", interactive=False, verbosity=0)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_an_approved_user(case: Any, accounts: dict[str, Account]) -> None:
    _fuzz(case, accounts["user"])


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_staff(case: Any, accounts: dict[str, Account]) -> None:
    _fuzz(case, accounts["staff"])


def test_the_live_server_serves_this_schema(live_theo: str) -> None:  # noqa: F811
    with urllib.request.urlopen(f"{live_theo}/api/schema/?format=json", timeout=10) as response:
        served = json.loads(response.read())
    assert served == json.loads(json.dumps(served_schema(), cls=DjangoJSONEncoder))
