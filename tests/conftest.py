"""Shared fixtures. Tests run on the real embedded PostgreSQL (+pgvector) and Redis; under
pytest, settings point Theo at Redis databases of its own (settings.TESTING).

The test session is an entry point like daphne or a worker: pytest_configure starts (or
attaches to) the embedded servers before any fixture sets up the test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from channels.layers import channel_layers
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.core import embedded
from apps.users.models import User
from tests.helpers import bearer
from tests.users.factories import UserFactory
from tests.websockets import close_db_connections, sockets  # noqa: F401 - fixtures for WebSocket tests


def pytest_configure(config: pytest.Config) -> None:
    embedded.ensure_services()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # If this test run started the embedded servers (e.g. in CI), it stops them too.
    embedded.stop_started_services(settings.DATA_DIR)


@pytest.fixture(scope="session", autouse=True)
def _documents_outside_the_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Files uploaded by tests (and by the worker processes they start) never land in
    THEO_DATA_DIR; tests/documents gives each test a directory of its own on top."""
    original = settings.DOCUMENTS_DIR
    settings.DOCUMENTS_DIR = tmp_path_factory.mktemp("documents")
    yield
    settings.DOCUMENTS_DIR = original


@pytest.fixture(scope="session", autouse=True)
def _compact_passage_index(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Tests insert passages and roll them back; in a reused test database their dead
    entries pile up in the HNSW index until a filtered vector scan gives up before it finds
    the live rows (hnsw.max_scan_tuples). Production has autovacuum; a test run starts clean."""
    from django.db import connection

    if not connection.settings_dict["NAME"].startswith("test_"):
        return  # no collected test uses the database, so pytest-django set none up
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("VACUUM knowledge_passage")


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache: each test starts with none (and with an
    empty hot tier); search reads word statistics afresh."""
    from apps.core.cache import forget_everything  # after django.setup()
    from apps.index.text_ranking import forget_statistics

    cache.clear()
    forget_everything()
    forget_statistics()
    yield


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """Each test runs its own event loop; channels_redis keeps per-loop locks and cleanup
    tasks in the layer object, so a layer must not outlive its loop (a receive would wait
    forever on a lock held by a task of a closed loop)."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    def make(role: str = User.Role.USER, status: str = User.Status.APPROVED, **fields: Any) -> User:
        return UserFactory(role=role, status=status, **fields)

    return make


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user()


@pytest.fixture
def admin_user(make_user: Callable[..., User]) -> User:
    return make_user(role=User.Role.ADMIN, email="admin@example.org")


@pytest.fixture
def client_for(api_client: APIClient) -> Callable[[User | None], APIClient]:
    """An API client authenticated as `user` with a JWT (None: anonymous)."""

    def for_user(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(**bearer(user))
        return client

    return for_user
