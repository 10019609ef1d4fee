"""Settings shared by every environment. Values come from the environment (django-environ)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import environ
from celery.schedules import crontab  # noqa: F401  (re-exported for schedules)
from django.utils.translation import gettext_lazy as _

from scrm import embedded

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", ".localhost", "127.0.0.1"])

# The mall (public schema) answers on these hosts; every brand answers on its own domain(s).
MALL_HOSTS = env.list("MALL_HOSTS", default=["localhost", "127.0.0.1"])
# Brand dashboards live on <slug>.<BRAND_DOMAIN_SUFFIX>, e.g. lancome.localhost.
BRAND_DOMAIN_SUFFIX = env.str("BRAND_DOMAIN_SUFFIX", default="localhost")
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000")

# --- Apps: decided up front (moving an app between schemas needs hand-made data moves) ---
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "scrm",
    "members",
    "guides",
    "wecom",
    "tasks.mall",
    "tasks.newbie",
    "tasks.community",
    "incentives",
]
TENANT_APPS = [
    "members.brand",
    "guides.brand",
    "guides.handover",
    "wecom.brand",
    "tasks",
    "tasks.community.brand",
    "incentives.brand",
]
INSTALLED_APPS = SHARED_APPS + [a for a in TENANT_APPS if a not in SHARED_APPS]

TENANT_MODEL = "tenants.Brand"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "scrm.urls_mall"
ROOT_URLCONF = "scrm.urls_brand"

MIDDLEWARE = [
    "tenants.middleware.MallTenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
            ],
        },
    }
]

WSGI_APPLICATION = "scrm.wsgi.application"


def database_url() -> str:
    """DATABASE_URL when set; otherwise the embedded PostgreSQL (local and test only)."""
    return env.str("DATABASE_URL", default="") or embedded.postgres_url()


def redis_url() -> str:
    return env.str("REDIS_URL", default="") or embedded.redis_url()


def configure_services(db_url: str, redis: str) -> dict:
    """The settings that depend on where PostgreSQL and Redis are."""
    db = environ.Env.db_url_config(db_url, engine="django_tenants.postgresql_backend")
    db["HOST"] = unquote(db.get("HOST") or "")  # a socket directory arrives percent-encoded
    db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    db["CONN_HEALTH_CHECKS"] = True
    return {
        "DATABASES": {"default": db},
        "REDIS_URL": redis,
        "CACHES": {
            "default": {
                "BACKEND": "scrm.cache.RedisCache",
                "LOCATION": redis,
                # Tenant-aware keys: the schema name is part of every cache key.
                "KEY_FUNCTION": "django_tenants.cache.make_key",
                "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
            },
            # Sessions (scrm.sessions): the same Redis, plain keys (a session is not a brand's data).
            "sessions": {"BACKEND": "scrm.cache.RedisCache", "LOCATION": redis, "KEY_PREFIX": "session",
                         "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}},
        },
        "CELERY_BROKER_URL": embedded.celery_url(redis),
    }


DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# One SET search_path per schema switch instead of one per cursor (it was ~60 extra round trips per
# WeCom add). Safe since django-tenants 4.0.1 (pinned): a SET is transactional, and its backend forgets
# the cached search_path on rollback and on rollback to a savepoint, so the next query sets it again.
# tests/platform/test_search_path.py proves both cases on this project's models.
TENANT_LIMIT_SET_CALLS = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/admin/login/"  # the mall host; brand dashboards and the sidebar have their own

# Chinese first, English second.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "scrm" / "static"]

SESSION_COOKIE_HTTPONLY = True
SESSION_ENGINE = "scrm.sessions"
SESSION_CACHE_ALIAS = "sessions"
# Messages can carry a one-time secret (a new API key): keep them server-side, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
CSRF_COOKIE_HTTPONLY = False

# --- Field encryption (phones at rest) ---
# FIELD_ENCRYPTION_KEYS: comma-separated Fernet keys, newest first (older ones still decrypt).
# LOOKUP_HASH_KEY: secret for the keyed hash (HMAC-SHA256) used to find a member by phone.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
LOOKUP_HASH_KEY = env.str("LOOKUP_HASH_KEY", default="")

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "scrm.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Mall SCRM API",
    "DESCRIPTION": "商场私域 SCRM: one-code dual membership, points, coupons, brands, guides. "
    "Every error has the shape {code, message, fields}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_URLCONF": "scrm.urls_mall",  # the API lives on the mall host, not on brand domains
}

# --- Celery ---
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hold a request for long when Redis is down: WeCom callbacks are already stored
# in the inbox, and the sweeper enqueues them once Redis is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2,
                                    "interval_max": 0.5}
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 10}
CELERY_BEAT_SCHEDULE_FILENAME = str(embedded.DATA_DIR / "celerybeat-schedule")
# WeCom callbacks have their own queue: a customer's add (and the welcome message, whose code lives 20 s) must
# not wait behind a night's task generation, a sync or a handover. A worker started without -Q consumes every
# queue listed here, taking from each in turn, so no deployment change is needed; a busy mall can also run a
# worker with -Q wecom alone.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = {"celery": {}, "wecom": {}}
CELERY_TASK_ROUTES = {"wecom.process_callback": {"queue": "wecom"}, "wecom.welcome_send": {"queue": "wecom"}}
# Celery's Django fixup closes the database connection before and after every task unless reuse is set: a new
# PostgreSQL connection (and backend process) per WeCom callback or brand job. Reuse it like a request does:
# scrm/celery.py drops a connection that is broken or older than CONN_MAX_AGE at each task's start and end;
# this only stops the unconditional close (Celery still recycles it after about this many tasks).
CELERY_DB_REUSE_MAX = 500

# The task engine's jobs (tasks/tasks.py), in relationships: small brands share a job up to this many; a brand
# with more than SPLIT is generated in parts of about PART (several workers run them in parallel).
TASKS_ENGINE_JOB_RELATIONSHIPS = env.int("TASKS_ENGINE_JOB_RELATIONSHIPS", default=200_000)
TASKS_ENGINE_SPLIT_RELATIONSHIPS = env.int("TASKS_ENGINE_SPLIT_RELATIONSHIPS", default=500_000)
TASKS_ENGINE_PART_RELATIONSHIPS = env.int("TASKS_ENGINE_PART_RELATIONSHIPS", default=250_000)

from scrm.schedules import CELERY_BEAT_SCHEDULE  # noqa: E402,F401

# Worker liveness: the heartbeat task runs every HEARTBEAT_SECONDS; /healthz calls the
# workers down when the last beat is older than WORKER_STALE_SECONDS.
HEARTBEAT_SECONDS = 10
WORKER_STALE_SECONDS = env.int("WORKER_STALE_SECONDS", default=45)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- WeCom (企业微信): the mall's corp. Brands with their own corp are rows in the admin. ---
# The API base (gettoken included) so the same code talks to WeCom, a proxy or the simulator.
WECOM_API_BASE = env.str("WECOM_API_BASE", default="https://qyapi.weixin.qq.com/cgi-bin/")
WECOM_OAUTH_AUTHORIZE_URL = env.str("WECOM_OAUTH_AUTHORIZE_URL",
                                    default="https://open.weixin.qq.com/connect/oauth2/authorize")
WECOM_CORP_ID = env.str("WECOM_CORP_ID", default="")
WECOM_SECRET = env.str("WECOM_SECRET", default="")  # customer-contact (客户联系) secret
WECOM_AGENT_ID = env.str("WECOM_AGENT_ID", default="")
WECOM_AGENT_SECRET = env.str("WECOM_AGENT_SECRET", default="")
WECOM_TOKEN = env.str("WECOM_TOKEN", default="")  # callback Token
WECOM_AES_KEY = env.str("WECOM_AES_KEY", default="")  # callback EncodingAESKey (43 characters)
WECOM_CORP_ID_DEFAULT = WECOM_CORP_ID or "ww-demo-mall"
# Events stuck in the inbox longer than this are picked up by the sweeper.
WECOM_INBOX_SWEEP_AFTER_SECONDS = env.int("WECOM_INBOX_SWEEP_AFTER_SECONDS", default=15)
# A worker's claim on an event; a worker killed mid-event frees it after this long.
WECOM_INBOX_CLAIM_SECONDS = env.int("WECOM_INBOX_CLAIM_SECONDS", default=300)
# Pending customer adds one worker takes at once (wecom/adds.py); 1 processes each add on its own.
WECOM_ADD_BATCH_SIZE = env.int("WECOM_ADD_BATCH_SIZE", default=40)
