"""Helpers for tests that need committed data and a real HTTP server (browser, WeCom end to end).

A test transaction is invisible to another thread's connection, so these tests commit. ``committed``
remembers the highest id of every table in every schema and, afterwards, deletes what was added
above it (foreign keys are checked again only at the end of each statement batch, so order does
not matter) and drops schemas created meanwhile.
"""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connection, connections

# The browser tests drive Debian's Chromium; .ci/run installs it. Elsewhere they skip, saying why.
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium is not installed at {CHROMIUM} "
                                    "(apt-get install chromium; CI installs it)")


def _id_tables(cursor) -> list[tuple[str, str]]:
    cursor.execute(
        """
        SELECT c.table_schema, c.table_name FROM information_schema.columns c
        JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.column_name = 'id' AND t.table_type = 'BASE TABLE'
          AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
        """
    )
    return cursor.fetchall()


def _schemas(cursor) -> set[str]:
    cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema'")
    return {row[0] for row in cursor.fetchall()}


@contextmanager
def committed(django_db_blocker):
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            schemas_before = _schemas(cursor)
            marks = {}
            for schema, table in _id_tables(cursor):
                cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{schema}"."{table}"')
                marks[(schema, table)] = cursor.fetchone()[0]
        try:
            yield
        finally:
            connections.close_all()
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                for schema in _schemas(cursor) - schemas_before:
                    cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
                cursor.execute("BEGIN")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                cursor.execute("SET LOCAL session_replication_role = replica")  # no FK triggers while cleaning
                for (schema, table), mark in marks.items():
                    cursor.execute(f'DELETE FROM "{schema}"."{table}" WHERE id > %s', [mark])
                cursor.execute("COMMIT")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server():
    """The whole platform (WSGI) on 127.0.0.1:<free port> in a thread. Yields its base URL."""
    from django.core.wsgi import get_wsgi_application

    port = free_port()
    server = ThreadedWSGIServer(("127.0.0.1", port), _QuietHandler, allow_reuse_address=True)
    server.set_app(get_wsgi_application())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def celery_broker(url: str):
    """Publish to a real broker at ``url`` (not eagerly) inside the block; restore everything after.

    Celery caches its connection and producer pools, so they are dropped on the way in and out.
    """
    from scrm.celery import app

    def reset_pools():
        # app.pool and the producer pool live in kombu's process-wide registries, keyed by broker URL:
        # closing them without clearing the registry leaves a closed pool that later publishers
        # (even eager apply_async, which acquires a producer) would get back.
        from kombu import pools

        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager", "broker_connection_max_retries")}
    reset_pools()
    app.conf.update(broker_url=url, task_always_eager=False)
    try:
        yield app
    finally:
        reset_pools()
        app.conf.update(saved)
