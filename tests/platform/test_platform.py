"""Platform plumbing: health, settings, compose file, tenant-aware Celery and cache."""

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from django.core.cache import cache
from django.db import connection

from scrm import health
from scrm.celery import SCHEMA_HEADER, _enter_schema, _leave_schema, _stamp_schema

ROOT = Path(__file__).resolve().parents[2]


def _clear_heartbeat():
    health._redis().delete(health.HEARTBEAT_KEY)


def test_healthz_up_when_database_redis_and_workers_are(client, db):
    health.record_worker_heartbeat()
    response = client.get("/healthz", HTTP_HOST="localhost")
    body = response.json()
    assert response.status_code == 200
    assert body["ok"] is True
    assert {body[k]["status"] for k in ("database", "redis", "workers")} == {"up"}


def test_healthz_503_without_worker_heartbeat(client, db):
    _clear_heartbeat()
    response = client.get("/healthz", HTTP_HOST="localhost")
    assert response.status_code == 503
    assert response.json()["workers"]["status"] == "down"
    assert response.json()["database"]["status"] == "up"


def test_healthz_503_when_redis_is_down(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz", HTTP_HOST="localhost")
    assert response.status_code == 503
    assert response.json()["redis"]["status"] == "down"


def test_unknown_host_is_404(client, db):
    assert client.get("/", HTTP_HOST="nobody.localhost").status_code == 404


def test_api_schema_and_docs(client, db):
    schema = client.get("/api/schema/", HTTP_HOST="localhost")
    docs = client.get("/api/docs/", HTTP_HOST="localhost")
    assert schema.status_code == 200 and b"/api/v1/members/enroll/" in schema.content
    assert docs.status_code == 200


def _settings_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in {
        "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "LOOKUP_HASH_KEY", "DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="scrm.settings.production", **extra)
    return env


def test_production_refuses_to_start_without_secrets():
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
                            env=_settings_env(), capture_output=True, text=True)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "FIELD_ENCRYPTION_KEYS" in result.stderr


def test_production_starts_with_secrets():
    env = _settings_env(SECRET_KEY="x" * 50, FIELD_ENCRYPTION_KEYS="dGVzdC1vbmx5LWtleS1ub3Qtc2VjcmV0LTAwMDAwMDA=",
                        LOOKUP_HASH_KEY="k", DATABASE_URL="postgres://u@db/scrm", REDIS_URL="redis://r:6379/0")
    result = subprocess.run([sys.executable, "-c", "import django; django.setup(); print('ok')"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_env_example_lists_every_variable_the_settings_read():
    source = "\n".join(p.read_text() for p in (ROOT / "scrm" / "settings").glob("*.py"))
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source))
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read, "the settings read variables through django-environ"
    assert read - listed == set()


def test_docker_compose_has_the_production_shape():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "scrm", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "scrm", "beat"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "scrm.settings.production"
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://redis")
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_celery_tasks_carry_and_restore_the_schema(brand_a, in_schema):
    headers = {}
    with in_schema(brand_a.schema_name):
        _stamp_schema(headers=headers)
    task = SimpleNamespace(request=SimpleNamespace(is_eager=False, **{SCHEMA_HEADER: headers[SCHEMA_HEADER]}))
    _enter_schema(task=task)
    inside = connection.schema_name
    _leave_schema(task=task)
    assert headers[SCHEMA_HEADER] == brand_a.schema_name
    assert (inside, connection.schema_name) == (brand_a.schema_name, "public")


def test_cache_keys_are_per_tenant(brand_a, brand_b, in_schema):
    with in_schema(brand_a.schema_name):
        cache.set("dashboard:counts", "A")
    with in_schema(brand_b.schema_name):
        seen_by_b = cache.get("dashboard:counts")
    with in_schema(brand_a.schema_name):
        seen_by_a = cache.get("dashboard:counts")
        cache.delete("dashboard:counts")
    assert (seen_by_a, seen_by_b) == ("A", None)


@pytest.mark.parametrize("code", ["1234567890", "12345", "abcdefghij"])
def test_member_codes_reject_typos(code):
    from members.identity import member_code_is_valid

    assert not member_code_is_valid(code)


def test_member_codes_have_a_valid_check_digit():
    from members.identity import member_code_is_valid, member_code_new

    codes = {member_code_new() for _ in range(200)}
    assert all(member_code_is_valid(c) and len(c) == 10 for c in codes)
    assert not any(member_code_is_valid(c[:-1] + str((int(c[-1]) + 1) % 10)) for c in codes)


def test_wecom_callbacks_have_their_own_queue_which_a_default_worker_also_consumes():
    from scrm.celery import app
    from wecom import tasks  # noqa: F401 (registers the tasks)

    for name in ("wecom.process_callback", "wecom.welcome_send"):
        assert app.amqp.router.route({}, name)["queue"].name == "wecom"
    assert app.amqp.router.route({}, "wecom.inbox_sweep")["queue"].name == "celery"
    assert set(app.amqp.queues) == {"celery", "wecom"}  # a worker without -Q consumes every one of these


def test_workers_keep_their_database_connection_between_tasks():
    """Celery's Django fixup would close it before and after every task (a new PostgreSQL backend per callback)."""
    from celery.fixups.django import DjangoWorkerFixup

    from scrm.celery import app

    fixup = DjangoWorkerFixup(app)
    closed = []
    fixup._close_database = lambda: closed.append(1)
    for _ in range(100):
        fixup.close_database()  # what it runs at each task's start and end
    assert closed == []
