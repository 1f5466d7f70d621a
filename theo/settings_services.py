"""Where Theo's data lives: PostgreSQL, Redis (broker, cache, channel layer) and the secret keys.

External when DATABASE_URL / REDIS_URL are set; otherwise the embedded servers under
THEO_DATA_DIR, whose URLs are derived here without starting anything: the entry points start
them (apps.core.embedded.ensure_services, docs/architecture.md "Settings only read").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from apps.core import embedded
from theo.settings_env import DATA_DIR, TESTING, env

# --- Services: external when configured, embedded otherwise -------------------------

EMBEDDED_DATABASE = not env("DATABASE_URL", default="")
EMBEDDED_REDIS = not env("REDIS_URL", default="")
DATABASE_URL = embedded.postgres_url(DATA_DIR) if EMBEDDED_DATABASE else env("DATABASE_URL")
REDIS_URL = embedded.redis_url(DATA_DIR) if EMBEDDED_REDIS else env("REDIS_URL")

# --- Secrets ------------------------------------------------------------------------
# On the one-machine embedded default, a key missing from the environment is read from
# DATA_DIR/secrets; the first start generates the files (ensure_services), settings only
# read them. A deployment (DATABASE_URL set) must pass them; apps.core.checks refuses to
# start outside DEBUG with an empty or default key.

INSECURE_DEFAULT_KEY = "django-insecure-theo-development-key"
SECRETS_DIR = DATA_DIR / "secrets"
# Environment name -> file, for the keys not generated yet: ensure_services() generates
# them and sets them in the starting process. Until then (in a process that starts nothing,
# e.g. `manage.py help` or mypy) the key is the insecure placeholder, which the system
# checks refuse outside DEBUG: never "", which Django and simplejwt reject at start-up.
SECRETS_TO_GENERATE: dict[str, Path] = {}


def _secret(env_name: str, file_name: str) -> str:
    value = env(env_name, default="")
    if value:
        return value
    if EMBEDDED_DATABASE:
        path = SECRETS_DIR / file_name
        value = path.read_text().strip() if path.is_file() else ""
        if value:
            return value
        SECRETS_TO_GENERATE[env_name] = path
    # A placeholder rather than "": the system check (theo.E001/E002) then says what to set.
    return INSECURE_DEFAULT_KEY


SECRET_KEY = _secret("SECRET_KEY", "secret_key")
JWT_SIGNING_KEY = _secret("THEO_JWT_SIGNING_KEY", "jwt_signing_key")

# --- Database -----------------------------------------------------------------------

# Every process (daphne, each Celery worker process, beat) has its own psycopg pool of at most
# THEO_DB_POOL_MAX_SIZE connections. Under ASGI each request runs in a thread of its own, and
# persistent connections (CONN_MAX_AGE > 0) were kept per thread until PostgreSQL ran out;
# with a pool a connection goes back after each request, so CONN_MAX_AGE must be 0.
# Total = MAX_SIZE x (daphne processes + worker concurrency + 2): docs/operations.md.
# THEO_DB_POOL=false (e.g. behind PgBouncer) opens one connection per request instead.
DB_POOL_ENABLED = env.bool("THEO_DB_POOL", default=True)
DB_POOL_MIN_SIZE = env.int("THEO_DB_POOL_MIN_SIZE", default=1)
DB_POOL_MAX_SIZE = env.int("THEO_DB_POOL_MAX_SIZE", default=8)
DB_POOL_TIMEOUT = env.float("THEO_DB_POOL_TIMEOUT", default=10.0)  # seconds; then 503 database_busy
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DB_POOL_ENABLED:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(DB_POOL_MIN_SIZE, DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT,
        "max_idle": 300,  # idle connections above min_size close after 5 minutes
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: one server, separate databases for broker, cache and channel layer -------

REDIS_DB_BASE = env.int("THEO_REDIS_DB", default=8 if TESTING else 0)


def redis_db_url(db_offset: int) -> str:
    """REDIS_URL pointed at database REDIS_DB_BASE + db_offset (tcp or unix socket); other
    options in the URL (e.g. rediss:// certificate settings) are kept."""
    parts = urlsplit(REDIS_URL)
    db = REDIS_DB_BASE + db_offset
    if parts.scheme == "unix":
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"] + [("db", str(db))]
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


def celery_broker_url(db_offset: int) -> str:
    if REDIS_URL.startswith("unix://"):
        return f"redis+socket://{urlsplit(REDIS_URL).path}?virtual_host={REDIS_DB_BASE + db_offset}"
    return redis_db_url(db_offset)


CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_db_url(1),
        "KEY_PREFIX": "theo",
        "TIMEOUT": 300,
    }
}

CHANNEL_LAYERS: dict[str, Any] = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # The layer blocks in BZPOPMIN for 5 s per read, and redis-py 8's default 5 s
            # socket timeout races it (idle sockets die every 5 s). A finite read timeout
            # also makes redis-py swallow a task cancellation, so a closing consumer would
            # never finish: no read timeout; BZPOPMIN's own 5 s bounds every read.
            "hosts": [
                {
                    "address": redis_db_url(2),
                    "socket_timeout": None,
                    "socket_connect_timeout": 5,
                    # redis-py 8's async pool refuses a 101st connection instead of waiting:
                    # 500 sockets closing at once (group_discard each) raised MaxConnectionsError.
                    "max_connections": env.int("THEO_CHANNEL_LAYER_MAX_CONNECTIONS", default=1000),
                    **({} if REDIS_URL.startswith("unix://") else {"socket_keepalive": True}),
                }
            ],
            "prefix": "theo",
            "capacity": 1000,
            "expiry": 60,
        },
    }
}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
