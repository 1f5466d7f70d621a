"""The embedded default: attaching to the running PostgreSQL and Redis, socket paths,
Redis URLs per database, and secrets generated once under the data directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

import theo.settings_services as settings_module
from apps.core import embedded
from apps.core.secrets import load_or_create_secret


def postmaster_pid() -> int:
    return int((settings.DATA_DIR / "postgres" / "postmaster.pid").read_text().splitlines()[0])


def redis_pid() -> int:
    return int((settings.DATA_DIR / "redis" / "redis.pid").read_text().strip())


# --- attach, never restart ----------------------------------------------------------


def test_postgres_url_attaches_to_the_running_server():
    pid = postmaster_pid()
    started = embedded.started_here()
    socket_dir = connection.settings_dict["OPTIONS"]["host"]  # the server these tests use
    assert embedded.postgres_url(settings.DATA_DIR) == f"postgres://postgres@/theo?host={socket_dir}"
    assert postmaster_pid() == pid
    assert embedded.started_here() == started


def test_redis_url_attaches_to_the_running_server():
    pid = redis_pid()
    started = embedded.started_here()
    assert embedded.redis_url(settings.DATA_DIR) == settings.REDIS_URL
    assert redis_pid() == pid
    assert embedded.started_here() == started


@pytest.mark.django_db
def test_the_url_reaches_the_database_the_tests_use():
    import psycopg
    from django.db import connection

    socket_dir = embedded.postgres_url(settings.DATA_DIR).split("?host=")[1]
    test_database = connection.settings_dict["NAME"]  # migrated by pytest-django, with pgvector
    with psycopg.connect(host=socket_dir, user=embedded.POSTGRES_USER, dbname=test_database) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'").fetchone() is not None


# --- redis socket path --------------------------------------------------------------


def test_redis_socket_lives_under_a_short_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    assert embedded.redis_socket_path(data_dir) == data_dir / "redis" / "redis.sock"


def test_redis_socket_falls_back_to_tmp_for_a_very_long_data_dir(tmp_path):
    long_dir = tmp_path / ("d" * 120)
    path = embedded.redis_socket_path(long_dir)
    assert path.parent.parent == Path("/tmp")
    assert path.parent.name.startswith("theo-")
    assert path.name == "redis.sock"
    assert len(str(path)) < 100  # unix socket paths are limited to ~107 bytes
    assert embedded.redis_socket_path(long_dir) == path  # stable: every process finds the same one
    assert embedded.redis_socket_path(tmp_path / ("e" * 120)) != path  # per data dir


# --- Redis URLs per database --------------------------------------------------------


@pytest.fixture
def redis_base(monkeypatch):
    def use(url: str, db_base: int = 0) -> None:
        monkeypatch.setattr(settings_module, "REDIS_URL", url)
        monkeypatch.setattr(settings_module, "REDIS_DB_BASE", db_base)

    return use


def test_unix_socket_urls(redis_base):
    redis_base("unix:///var/theo/redis.sock", 8)
    assert settings_module.redis_db_url(0) == "unix:///var/theo/redis.sock?db=8"
    assert settings_module.redis_db_url(2) == "unix:///var/theo/redis.sock?db=10"
    assert settings_module.celery_broker_url(0) == "redis+socket:///var/theo/redis.sock?virtual_host=8"


def test_unix_socket_url_with_a_db_already_chosen(redis_base):
    redis_base("unix:///run/redis.sock?db=3", 0)
    assert settings_module.redis_db_url(1) == "unix:///run/redis.sock?db=1"
    assert settings_module.celery_broker_url(0) == "redis+socket:///run/redis.sock?virtual_host=0"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://redis:6379", "redis://redis:6379/5"),
        ("redis://redis:6379/", "redis://redis:6379/5"),
        ("redis://redis:6379/0", "redis://redis:6379/5"),
        ("redis://:secret@cache.internal:6380/2", "redis://:secret@cache.internal:6380/5"),
    ],
)
def test_tcp_urls(redis_base, url, expected):
    redis_base(url, 4)
    assert settings_module.redis_db_url(1) == expected
    assert settings_module.celery_broker_url(1) == expected


def test_tls_url_keeps_its_options(redis_base):
    # docs/deploy.md: REDIS_URL may be rediss:// for managed Redis; its TLS options must survive.
    redis_base("rediss://:pw@redis.example.net:6380/0?ssl_cert_reqs=none", 0)
    assert settings_module.redis_db_url(1) == "rediss://:pw@redis.example.net:6380/1?ssl_cert_reqs=none"
    assert settings_module.celery_broker_url(0) == "rediss://:pw@redis.example.net:6380/0?ssl_cert_reqs=none"


def test_settings_use_three_consecutive_databases_of_one_redis():
    broker, cache = settings.CELERY_BROKER_URL, settings.CACHES["default"]["LOCATION"]
    channel_hosts = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    assert broker == settings_module.celery_broker_url(0)
    assert cache == settings_module.redis_db_url(1)
    assert [host["address"] for host in channel_hosts] == [settings_module.redis_db_url(2)]
    assert len({settings_module.redis_db_url(n) for n in range(3)}) == 3


def test_tests_never_share_redis_databases_with_a_running_theo():
    # `make run` uses databases 0-2 by default; tests default to 8-10.
    assert settings.TESTING
    assert settings.REDIS_DB_BASE >= 3


# --- secrets ------------------------------------------------------------------------


def test_secret_is_created_once_with_mode_0600(tmp_path):
    path = tmp_path / "secrets" / "secret_key"
    first = load_or_create_secret(path)
    assert len(first) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert load_or_create_secret(path) == first
    assert path.read_text().strip() == first


def test_different_files_get_different_secrets(tmp_path):
    assert load_or_create_secret(tmp_path / "a") != load_or_create_secret(tmp_path / "b")


def test_an_existing_secret_is_kept(tmp_path):
    path = tmp_path / "jwt_signing_key"
    path.write_text("an-existing-key-from-an-earlier-start\n")
    assert load_or_create_secret(path) == "an-existing-key-from-an-earlier-start"


def test_an_empty_secret_file_is_reported(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("")
    with pytest.raises(RuntimeError, match="delete it"):
        load_or_create_secret(path)
