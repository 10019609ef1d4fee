"""Celery application, tenant-aware from the start.

Every task published from a request or job carries the schema it was published in (header
``_schema_name``); the worker switches to that schema before running the task and back to the
public schema afterwards, so a task can never read another brand's data by accident.
"""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.local")

app = Celery("scrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

SCHEMA_HEADER = "_schema_name"


@signals.before_task_publish.connect
def _stamp_schema(headers=None, **_kwargs):
    from django.db import connection

    if headers is not None and SCHEMA_HEADER not in headers:
        headers[SCHEMA_HEADER] = getattr(connection, "schema_name", "public")


def _schema_of(task) -> str:
    request = task.request
    schema = getattr(request, SCHEMA_HEADER, None)
    if schema is None and isinstance(getattr(request, "headers", None), dict):
        schema = request.headers.get(SCHEMA_HEADER)
    return schema or "public"


def _close_old_connections() -> None:
    """Django's per-request connection check, for tasks (CELERY_DB_REUSE_MAX keeps the connection otherwise).
    Never inside an atomic block: a worker's task does not start in one; a test calling these handlers does."""
    from django.db import close_old_connections, connection

    if not connection.in_atomic_block:
        close_old_connections()


@signals.task_prerun.connect
def _enter_schema(task=None, **_kwargs):
    from django.db import connection

    if getattr(task.request, "is_eager", False):
        return  # eager (tests): already running inside the caller's schema
    _close_old_connections()  # what Django does at a request's start: drop a broken or too old connection
    schema = _schema_of(task)
    if schema == "public":
        connection.set_schema_to_public()
    else:
        from tenants.models import Brand

        connection.set_tenant(Brand.objects.get(schema_name=schema))


@signals.task_postrun.connect
def _leave_schema(task=None, **_kwargs):
    from django.db import connection

    if not getattr(task.request, "is_eager", False):
        connection.set_schema_to_public()
        _close_old_connections()  # and at its end (a task that failed mid-transaction leaves nothing behind)


@signals.worker_ready.connect
def _first_heartbeat(**_kwargs):
    from scrm.health import record_worker_heartbeat

    record_worker_heartbeat()
