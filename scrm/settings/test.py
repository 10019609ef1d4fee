"""Test settings: embedded servers unless DATABASE_URL / REDIS_URL point at real ones."""

from .base import *  # noqa: F401,F403
from .base import configure_services, database_url, env, redis_url

SECRET_KEY = "test-not-secret"
DEBUG = False
FIELD_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LWtleS1ub3Qtc2VjcmV0LTAwMDAwMDA="]
LOOKUP_HASH_KEY = "test-lookup-key"
DEMO_MODE = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False}

WHITENOISE_USE_FINDERS = True  # serve static straight from the apps, no collectstatic
STATIC_ROOT = None  # nothing collected locally; WhiteNoise serves from the finders

# Tests always talk to the demo corp (a simulator the tests start themselves).
from wecom.demo import DEMO_CORP  # noqa: E402

globals().update(DEMO_CORP)
WECOM_CORP_ID_DEFAULT = DEMO_CORP["WECOM_CORP_ID"]
# nothing listens there: a test that forgets the simulator fails (a test's worker process passes its own)
WECOM_API_BASE = env.str("SCRM_TEST_WECOM_API_BASE", default="http://127.0.0.1:9/cgi-bin/")
CELERY_TASK_ALWAYS_EAGER = env.bool("SCRM_TEST_CELERY_EAGER", default=True)

globals().update(configure_services(database_url(), redis_url()))
