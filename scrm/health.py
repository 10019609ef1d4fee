"""Liveness of the platform's parts for /healthz."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection

HEARTBEAT_KEY = "scrm:health:worker-heartbeat"


def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def record_worker_heartbeat() -> None:
    _redis().set(HEARTBEAT_KEY, str(time.time()), ex=settings.WORKER_STALE_SECONDS * 4)


def check() -> dict:
    """State of database, Redis and workers; ``ok`` only when all three are up."""
    result: dict = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        result["database"] = {"status": "up"}
    except Exception as exc:  # report, never raise: this is the health endpoint
        result["database"] = {"status": "down", "error": exc.__class__.__name__}
    beat = None
    try:
        client = _redis()
        client.ping()
        result["redis"] = {"status": "up"}
        beat = client.get(HEARTBEAT_KEY)
    except Exception as exc:
        result["redis"] = {"status": "down", "error": exc.__class__.__name__}
    if beat is None:
        result["workers"] = {"status": "down", "error": "no heartbeat"}
    else:
        age = time.time() - float(beat)
        status = "up" if age <= settings.WORKER_STALE_SECONDS else "down"
        result["workers"] = {"status": status, "last_heartbeat_seconds_ago": round(age, 1)}
    result["ok"] = all(part["status"] == "up" for part in (result["database"], result["redis"], result["workers"]))
    return result
