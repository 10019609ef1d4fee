"""Local development and `make run`: embedded PostgreSQL/Redis unless URLs are given."""

from .base import *  # noqa: F401,F403
from .base import configure_services, database_url, env, redis_url

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "local-dev-only-not-secret"  # noqa: F405
# Development keys only; production refuses to start without real ones.
FIELD_ENCRYPTION_KEYS = FIELD_ENCRYPTION_KEYS or ["bG9jYWwtZGV2LW9ubHkta2V5LW5vdC1zZWNyZXQtMDA="]  # noqa: F405
LOOKUP_HASH_KEY = LOOKUP_HASH_KEY or "local-dev-lookup-key"  # noqa: F405
DEMO_MODE = env.bool("DEMO_MODE", default=True)

WHITENOISE_USE_FINDERS = True  # serve static straight from the apps, no collectstatic
STATIC_ROOT = None  # nothing collected locally; WhiteNoise serves from the finders

# The demo WeCom corp (the bundled simulator) unless a real corp is configured.
from wecom.demo import DEMO_CORP  # noqa: E402

for _name, _value in DEMO_CORP.items():
    if not globals().get(_name):
        globals()[_name] = _value
WECOM_CORP_ID_DEFAULT = WECOM_CORP_ID  # noqa: F405

globals().update(configure_services(database_url(), redis_url()))
