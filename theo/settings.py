"""Theo's one settings module, read from the environment (see README "Configuration").

With DATABASE_URL / REDIS_URL unset, Theo starts embedded PostgreSQL and Redis under
THEO_DATA_DIR (apps/core/embedded.py) and keeps generated secrets there too.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import environ

from apps.core import embedded
from apps.core.secrets import load_or_create_secret

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Nothing may download models or data at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# pytest sets PYTEST_VERSION; tests then use their own Redis databases (see REDIS below),
# so a running `make run` and `make test` never share queues or caches.
TESTING = "PYTEST_VERSION" in os.environ

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = Path(env("THEO_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# --- Services: external when configured, embedded otherwise -------------------------

EMBEDDED_DATABASE = not env("DATABASE_URL", default="")
EMBEDDED_REDIS = not env("REDIS_URL", default="")
DATABASE_URL = embedded.postgres_url(DATA_DIR) if EMBEDDED_DATABASE else env("DATABASE_URL")
REDIS_URL = embedded.redis_url(DATA_DIR) if EMBEDDED_REDIS else env("REDIS_URL")

# --- Secrets ------------------------------------------------------------------------
# On the one-machine embedded default, missing keys are generated once into DATA_DIR.
# A deployment (DATABASE_URL set) must pass them; apps.core.checks refuses to start
# outside DEBUG with an empty or default key.

INSECURE_DEFAULT_KEY = "django-insecure-theo-development-key"


def _secret(env_name: str, file_name: str) -> str:
    value = env(env_name, default="")
    if value:
        return value
    if EMBEDDED_DATABASE:
        return load_or_create_secret(DATA_DIR / "secrets" / file_name)
    # A placeholder rather than "": the system check (theo.E001/E002) then says what to set.
    return INSECURE_DEFAULT_KEY


SECRET_KEY = _secret("SECRET_KEY", "secret_key")
JWT_SIGNING_KEY = _secret("THEO_JWT_SIGNING_KEY", "jwt_signing_key")

# --- HTTP ---------------------------------------------------------------------------

HOST = env("HOST", default="127.0.0.1")
PORT = env.int("PORT", default=8000)
# Loopback names are always allowed: health checks inside a container or host use them.
ALLOWED_HOSTS = [*env.list("ALLOWED_HOSTS", default=[]), "127.0.0.1", "localhost", "[::1]"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# THEO_HTTPS: Theo is served over HTTPS (directly or behind a TLS-terminating proxy).
HTTPS = env.bool("THEO_HTTPS", default=False)
# Reverse proxies (apps/core/proxies.py): THEO_TRUSTED_PROXIES is how many proxies stand in
# front of Theo, or their addresses/CIDR networks; setting it implies THEO_BEHIND_PROXY.
# THEO_BEHIND_PROXY=true alone means one proxy. Invalid values: system check theo.E010.
TRUSTED_PROXIES = env("THEO_TRUSTED_PROXIES", default="").strip()
BEHIND_PROXY = env.bool("THEO_BEHIND_PROXY", default=bool(TRUSTED_PROXIES))
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("THEO_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^health", r"^metrics$"]
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("THEO_SESSION_DAYS", default=14) * 24 * 3600

# --- Applications -------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",  # must come first: its runserver serves ASGI
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "django_prometheus",
    "django_structlog",
    "django_htmx",
    "apps.core",
    "apps.users",
    "apps.index",
    "apps.bible",
    "apps.knowledge",
    "apps.documents",
    "apps.chat",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.middleware.RejectNulBytesMiddleware",
    "apps.core.middleware.ForwardedHeadersMiddleware",  # before anything reads X-Forwarded-*
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# --- Content-Security-Policy (django-csp 4; docs/security.md) -------------------------
# Every page: scripts, styles, images and fonts from Theo itself only; no inline script,
# event handler or style attribute (pages put those in static files), no eval. JSON in
# <script type="application/json"> (json_script) is data, not script: CSP does not block it.
# connect-src 'self' also covers Theo's own WebSockets (CSP Level 3). img-src data: is for
# the icons Swagger UI's stylesheet embeds.
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "theo.urls"
WSGI_APPLICATION = "theo.wsgi.application"
ASGI_APPLICATION = "theo.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.theo",
            ],
        },
    },
]

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

# --- Celery -------------------------------------------------------------------------

CELERY_BROKER_URL = celery_broker_url(0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
# Ingestion runs on its own queue so that deployments can give it its own workers
# (`celery -A theo worker -Q ingestion`); the default worker consumes both.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "apps.documents.tasks.ingest_document_task": {"queue": "ingestion"},
    "apps.knowledge.tasks.index_entry_task": {"queue": "ingestion"},
    "apps.knowledge.tasks.load_bibles_task": {"queue": "ingestion"},  # apps.bible.tasks (old names kept)
    "apps.knowledge.tasks.embed_pending_bible_task": {"queue": "ingestion"},
}
WORKER_QUEUES = "celery,ingestion"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "flush-expired-jwt": {
        "task": "apps.users.tasks.flush_expired_tokens_task",
        "schedule": timedelta(days=1),
    },
    "load-bibles": {  # idempotent: resumes an interrupted Bible load, else does nothing
        "task": "apps.knowledge.tasks.load_bibles_task",
        "schedule": timedelta(minutes=15),
    },
    "requeue-stuck-documents": {
        "task": "apps.documents.tasks.requeue_stuck_documents_task",
        "schedule": timedelta(minutes=5),
    },
}
WORKER_CONCURRENCY = env.int("THEO_WORKER_CONCURRENCY", default=2)
DJANGO_STRUCTLOG_CELERY_ENABLED = True

# --- Auth ---------------------------------------------------------------------------

AUTH_USER_MODEL = "users.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

INITIAL_ADMIN_EMAIL = env("THEO_ADMIN_EMAIL", default="")
INITIAL_ADMIN_PASSWORD = env("THEO_ADMIN_PASSWORD", default="")
DEFAULT_MONTHLY_BUDGET_USD = env.float("THEO_DEFAULT_MONTHLY_BUDGET_USD", default=5.0)

SIMPLE_JWT: dict[str, Any] = {
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ALGORITHM": "HS256",
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("THEO_JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("THEO_JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "USER_AUTHENTICATION_RULE": "apps.users.authentication.user_may_sign_in",
    # A password change revokes every token issued before it.
    "CHECK_REVOKE_TOKEN": True,
}

# --- REST API -----------------------------------------------------------------------

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.users.authentication.ApprovedJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.permissions.IsApproved"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "apps.core.openapi.TheoAutoSchema",
    "EXCEPTION_HANDLER": "apps.core.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Theo API",
    "DESCRIPTION": "Theological research assistant. Errors are always "
    '`{"error": {"code", "message", "details"}}`; see docs/api.md.',
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AccountStatusEnum": "apps.users.models.User.Status",
        "DocumentStatusEnum": "apps.documents.models.Document.Status",
        "KnowledgeEntryStatusEnum": "apps.knowledge.models.KnowledgeEntry.Status",
        "AccountRoleEnum": "apps.users.models.User.Role",
        "MessageRoleEnum": "apps.chat.models.Message.Role",
        "ConversationScopeEnum": "apps.chat.models.Conversation.Scope",
        "PersonaScopeEnum": "apps.chat.models.Persona.Scope",
        "SearchScopeEnum": "apps.index.search.SCOPE_NAMES",
    },
}

# --- Rate limits (django-ratelimit on the shared Redis cache) -----------------------

RATELIMIT_USE_CACHE = "default"
RATELIMIT_ENABLE = True
RATELIMIT_IP_META_KEY = "apps.core.ratelimits.ratelimit_ip"  # the real client address
RATE_LIMITS = {
    # Sign-in counts wrong passwords only (apps/users/throttle.py, docs/security.md).
    "login": env("THEO_LOGIN_RATE", default="5/m"),  # per account from one address
    "login_address": env("THEO_LOGIN_ADDRESS_RATE", default="20/h"),  # per address, any account
    "login_account": env("THEO_LOGIN_ACCOUNT_RATE", default="50/h"),  # per account, unknown addresses
    "register": env("THEO_REGISTER_RATE", default="10/h"),
    "chat": "10/m",
    "upload": "20/h",
    "search": "60/m",
}

# --- Uploads, static files, i18n ---------------------------------------------------

MAX_UPLOAD_MB = env.int("THEO_MAX_UPLOAD_MB", default=50)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Documents and the passage index -------------------------------------------------

EMBEDDING_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_BATCH_SIZE = env.int("THEO_EMBEDDING_BATCH_SIZE", default=32)
EMBEDDING_THREADS = env.int("THEO_EMBEDDING_THREADS", default=0)  # 0: torch's default
# Passages embedded per background batch (Bible verses, re-embedding after a model change).
EMBEDDING_STALE_BATCH = env.int("THEO_EMBEDDING_STALE_BATCH", default=256)
# Load and embed the KJV and WEB in the background when `manage.py run` starts.
BIBLE_AUTOLOAD = env.bool("THEO_BIBLE_AUTOLOAD", default=not TESTING)
# Hybrid search: reciprocal rank fusion constant and how many candidates each ranking gives
# (tuned with `make bench BENCH=retrieval` on shared/eval; see docs/architecture.md).
SEARCH_RRF_K = env.int("THEO_SEARCH_RRF_K", default=10)
SEARCH_CANDIDATES = env.int("THEO_SEARCH_CANDIDATES", default=50)
SEARCH_MAX_K = 50
# ts_rank normalization flags (PostgreSQL docs, "Ranking Search Results"): 0 = raw rank.
SEARCH_TEXT_NORMALIZATION = env.int("THEO_SEARCH_TEXT_NORMALIZATION", default=32)
SEARCH_DEFAULT_TRANSLATION = env("THEO_SEARCH_TRANSLATION", default="web")
SCRIPTURE_MAX_VERSES = env.int("THEO_SCRIPTURE_MAX_VERSES", default=500)

# --- Chat with Claude ------------------------------------------------------------------

ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="")  # another endpoint (proxy, local fake)
ANTHROPIC_MAX_RETRIES = env.int("THEO_CLAUDE_MAX_RETRIES", default=2)  # with backoff, on 429/5xx/overload
CHAT_MODEL = env("THEO_CHAT_MODEL", default="claude-sonnet-5-5")
CHAT_MAX_OUTPUT_TOKENS = env.int("THEO_CHAT_MAX_OUTPUT_TOKENS", default=1500)
CHAT_TIMEOUT_SECONDS = env.float("THEO_CHAT_TIMEOUT_SECONDS", default=60.0)
CHAT_MAX_QUESTION_CHARS = env.int("THEO_CHAT_MAX_QUESTION_CHARS", default=4000)
CHAT_SOURCES = env.int("THEO_CHAT_SOURCES", default=8)  # passages numbered into each prompt
CHAT_HISTORY_TOKENS = env.int("THEO_CHAT_HISTORY_TOKENS", default=3000)
# A passage enters the prompt with at most this many characters (chunks are cut by words,
# and one "word" of an odd PDF can be a megabyte).
CHAT_PASSAGE_CHARS = env.int("THEO_CHAT_PASSAGE_CHARS", default=2000)
# Context window in tokens by model-name prefix (the longest matching prefix wins): the
# prompt (persona, sources, history, tool results) plus the answer is kept under it.
CHAT_CONTEXT_WINDOWS = {"claude": 200_000, "default": 200_000, **env.json("THEO_CHAT_CONTEXT_WINDOWS", default={})}
CHAT_MAX_TOOL_ROUNDS = 3
CHAT_SOCKETS_PER_USER = env.int("THEO_CHAT_SOCKETS_PER_USER", default=5)
CHAT_SOCKETS_TOTAL = env.int("THEO_CHAT_SOCKETS_TOTAL", default=1000)
CHAT_MAX_FRAME_BYTES = env.int("THEO_CHAT_MAX_FRAME_BYTES", default=16384)
# Other WebSockets (apps/core/sockets.py) and the SSE progress stream (apps/documents/progress.py).
EVENTS_SOCKETS_PER_USER = env.int("THEO_EVENTS_SOCKETS_PER_USER", default=10)
EVENTS_SOCKETS_TOTAL = env.int("THEO_EVENTS_SOCKETS_TOTAL", default=5000)
ROOM_SOCKETS_PER_USER = env.int("THEO_ROOM_SOCKETS_PER_USER", default=20)
ROOM_SOCKETS_TOTAL = env.int("THEO_ROOM_SOCKETS_TOTAL", default=5000)
PROGRESS_STALL_SECONDS = env.int("THEO_PROGRESS_STALL_SECONDS", default=900)
LLM_BREAKER_FAILURES = env.int("THEO_CLAUDE_BREAKER_FAILURES", default=5)
LLM_BREAKER_RESET_SECONDS = env.int("THEO_CLAUDE_BREAKER_RESET_SECONDS", default=60)
# USD per million tokens: input, output, cache write, cache read, by model-name prefix (the
# longest matching prefix wins). Check Anthropic's current price list; THEO_LLM_PRICES takes a
# JSON object of the same shape to override it.
LLM_PRICES = {
    "claude-opus": (5.0, 25.0, 6.25, 0.50),
    "claude-sonnet": (3.0, 15.0, 3.75, 0.30),
    "claude-haiku": (1.0, 5.0, 1.25, 0.10),
    "default": (3.0, 15.0, 3.75, 0.30),
    **env.json("THEO_LLM_PRICES", default={}),
}
CHUNK_WORDS = env.int("THEO_CHUNK_WORDS", default=180)
CHUNK_OVERLAP_WORDS = env.int("THEO_CHUNK_OVERLAP_WORDS", default=40)
DOCUMENTS_DIR = Path(env("THEO_DOCUMENTS_DIR", default=str(DATA_DIR / "documents"))).resolve()
# Untrusted files are parsed in a child process with these limits.
EXTRACTION_MEMORY_MB = env.int("THEO_EXTRACTION_MEMORY_MB", default=1024)
EXTRACTION_TIMEOUT_SECONDS = env.int("THEO_EXTRACTION_TIMEOUT_SECONDS", default=120)
# A document still "processing" this long after its last progress is re-queued by beat.
INGEST_STUCK_MINUTES = env.int("THEO_INGEST_STUCK_MINUTES", default=30)
# Abuse limits on ingestion (issue 10): text read from one file, passages made from it,
# starts of one document without finishing (a worker killed mid-document), reprocess
# requests per user, and the total size of one user's stored files (0: no quota).
MAX_DOCUMENT_CHARS = env.int("THEO_MAX_DOCUMENT_CHARS", default=10_000_000)
MAX_DOCUMENT_PASSAGES = env.int("THEO_MAX_DOCUMENT_PASSAGES", default=20_000)
INGEST_MAX_ATTEMPTS = env.int("THEO_INGEST_MAX_ATTEMPTS", default=3)
RATE_LIMITS["reprocess"] = env("THEO_REPROCESS_RATE", default="10/h")
USER_QUOTA_MB = env.int("THEO_USER_QUOTA_MB", default=2048)

HEALTH_DISK_MIN_FREE_MB = env.int("THEO_DISK_MIN_FREE_MB", default=1024)
# /metrics answers loopback, or anyone sending `Authorization: Bearer <THEO_METRICS_TOKEN>`.
METRICS_TOKEN = env("THEO_METRICS_TOKEN", default="")

# --- Logging: JSON lines (human-readable when DEBUG) --------------------------------

LOG_LEVEL = env("THEO_LOG_LEVEL", default="WARNING" if TESTING else "INFO").upper()
LOG_FORMAT = env("THEO_LOG_FORMAT", default="console" if DEBUG else "json")

from apps.core.logging import configure_logging  # noqa: E402

LOGGING = configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
DJANGO_STRUCTLOG_STATUS_4XX_LOG_LEVEL = 20  # INFO: a 404 is not a warning
# RequestIdMiddleware has already validated (or generated) X-Request-ID.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
CSRF_FAILURE_VIEW = "apps.core.views.csrf_failure"
