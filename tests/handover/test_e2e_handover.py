"""Done-when for 离职继承, through the WeCom simulator over real HTTP with a real Celery worker:
250 customers of one departed guide, three chunks, some refusals, some successors at limit, the
worker killed mid-run -> the report adds up, nobody is transferred twice, lifecycle day 0 moves.

The guide resigns in WeCom (simulator) -> encrypted delete_user callback -> inbox -> worker ->
guide_resign -> handover.start -> handover.run (chunks of <= 100 per successor) -> we SIGKILL the
worker during the submissions -> a new worker; the sweep (what beat runs) re-drives the handover ->
the simulated clock passes the takeover delay -> transfer results polled -> relationships move.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from django_tenants.utils import schema_context

from tests.e2e.test_inbox_no_loss import RedisServer, _database_url, _stop
from tests.live import celery_broker

ROOT = Path(__file__).resolve().parents[2]
N = 250
DELAY = 3600  # simulated seconds until WeCom takes over (24 h in real life)


def _worker(broker: RedisServer, api_base: str) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "scrm.settings.test", "DATABASE_URL": _database_url(),
           "REDIS_URL": broker.url, "SCRM_TEST_WECOM_API_BASE": api_base, "SCRM_TEST_CELERY_EAGER": "false",
           "WECOM_INBOX_CLAIM_SECONDS": "4", "HANDOVER_RESUBMIT_AFTER_SECONDS": "2"}
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "scrm", "worker", "-l", "WARNING",
                             "--concurrency", "2", "--without-heartbeat", "--without-gossip", "--without-mingle"],
                            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _wait(predicate, timeout: float, sweep=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if sweep:
            sweep()
        time.sleep(0.5)
    return predicate()


def _states(schema, handover) -> dict:
    from django.db.models import Count

    from guides.handover.models import HandoverItem

    with schema_context(schema):
        return dict(HandoverItem.objects.filter(handover=handover).values_list("state").annotate(n=Count("id")))


def _customers(guide, count: int, simulator, settings) -> tuple[list[str], dict[int, object]]:
    import datetime as dt

    from guides.services import relationship_record
    from members.services import Identity, Profile, member_enroll

    euids = simulator.customers(count, name_prefix="老客")
    simulator.seed_follows([{"userid": guide.wecom_userid, "external_userid": e, "state": "counter"} for e in euids])
    day0 = {}
    start = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
    for i, euid in enumerate(euids):
        member = member_enroll(brand=guide.brand, identity=Identity(external_userid=euid,
                                                                    corp_id=settings.WECOM_CORP_ID),
                               profile=Profile(), guide=guide, channel="counter").member
        added_at = start + dt.timedelta(hours=i)
        relationship_record(guide=guide, member=member, external_userid=euid, channel="counter", state="counter",
                            added_at=added_at)
        day0[member.pk] = added_at
    return euids, day0


def _open_tasks(guide, day0: dict) -> None:
    """Each customer has an open day-7 lifecycle task of the departed guide (as the engine issues them)."""
    import datetime as dt

    from tasks.models import GuideTask

    with schema_context(guide.brand.schema_name):
        GuideTask.objects.bulk_create([
            GuideTask(source="lifecycle", ref="hq:d7", period=added_at.date().isoformat(), guide=guide,
                      member_id=member_id, lifecycle_day=7, task_type="benefits", title="新会员7天权益",
                      issued_on=added_at.date() + dt.timedelta(days=5), due_on=added_at.date() + dt.timedelta(days=9))
            for member_id, added_at in day0.items()])


def test_250_customers_three_chunks_refusals_limits_and_a_killed_worker(simulator, guide_factory, settings):
    from guides.brand.models import Relationship
    from guides.handover.models import Handover, HandoverItem
    from guides.handover.selectors import BUCKETS, handover_counts
    from guides.handover.tasks import handover_sweep
    from guides.models import Guide
    from members.brand.models import BrandMember
    from tasks.models import GuideTask

    departed = guide_factory("lancome", name="离职的王姐")
    successors = [guide_factory("lancome", name=f"接替{i}") for i in range(3)]
    for guide in [departed, *successors]:
        simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    euids, day0 = _customers(departed, N, simulator, settings)
    _open_tasks(departed, day0)
    refuse, limit = euids[:12], euids[12:20]
    simulator.transfer_outcome(refuse, "refuse")
    simulator.transfer_outcome(limit, "limit")  # WeCom says "successor full" (status 4) whoever it is
    simulator.configure(takeover_delay_seconds=DELAY, latency_ms={"externalcontact/resigned/transfer_customer": 700})
    schema = departed.brand.schema_name

    broker = RedisServer()
    broker.start()
    cleanup = ExitStack()
    cleanup.enter_context(celery_broker(broker.url))
    settings.HANDOVER_RESUBMIT_AFTER_SECONDS = 2
    workers = [_worker(broker, settings.WECOM_API_BASE)]
    try:
        time.sleep(2)
        simulator.resign(departed.wecom_userid)  # ⚡ delete_user callback
        assert _wait(lambda: simulator.calls(endpoint="externalcontact/resigned/transfer_customer"), 30)
        _stop(workers[0], signal.SIGKILL)  # mid-run: one chunk in flight, the others not yet sent
        assert Guide.objects.get(pk=departed.pk).status == "resigned"
        with schema_context(schema):
            handover = Handover.objects.get(guide=departed)
            claimed_when_killed = HandoverItem.objects.filter(handover=handover).exclude(state="pending").count()
        assert claimed_when_killed < N  # the kill really interrupted the run

        workers.append(_worker(broker, settings.WECOM_API_BASE))
        simulator.configure(latency_ms={})

        def all_sent():
            with schema_context(schema):
                return not HandoverItem.objects.filter(handover=handover, state__in=["pending", "submitted"]).exists()

        assert _wait(all_sent, 40, sweep=handover_sweep)  # beat's sweep re-drives the handover
        simulator.advance(DELAY + 1)  # WeCom's 24 hours pass

        def finished():
            with schema_context(schema):
                return Handover.objects.get(pk=handover.pk).status == "done"

        def next_day():  # a re-assigned customer waits another 24 h at the next successor
            simulator.advance(DELAY + 1)
            handover_sweep()

        assert _wait(finished, 40, sweep=next_day), _states(schema, handover)
        assert simulator.wait_deliveries(timeout=120)  # ~270 callbacks to a busy test server
    finally:
        for worker in workers:
            _stop(worker)
        cleanup.close()
        if broker.process.poll() is None:
            broker.kill()

    transfers = simulator.get("transfers")["transfers"]
    with schema_context(schema):
        counts = handover_counts(handover_id=handover.pk)
        items = list(HandoverItem.objects.filter(handover=handover))
        moved = list(Relationship.objects.filter(guide__in=successors, status="active")
                     .values_list("member_id", "guide_id", "added_at", "channel"))
        old = dict(Relationship.objects.filter(guide=departed).values_list("member_id", "ended_reason"))
        tasks = {t.member_id: t for t in GuideTask.objects.filter(member_id__in=list(day0))}
        sources = list(BrandMember.objects.filter(member_id__in=list(day0)).values_list("source_guide_id", flat=True))
    # the report adds up, with the expected outcomes
    assert counts["total"] == N == sum(counts[b] for b in BUCKETS)
    assert (counts["taken_over"], counts["refused"], counts["successor_at_limit"]) == (N - 20, 12, 8)
    # nobody transferred twice: one WeCom transfer per customer, except "successor full" ones that
    # went to the next successor (never the same one twice), and at most one successor relationship each
    per_customer: dict[str, list[str]] = {}
    for t in transfers:
        per_customer.setdefault(t["external_userid"], []).append(t["takeover_userid"])
    assert all(len(v) == 1 for e, v in per_customer.items() if e not in limit)
    assert all(len(v) == len(set(v)) <= 3 for e, v in per_customer.items() if e in limit)
    assert len(per_customer) == N
    assert len(moved) == len({m for m, *_ in moved}) == N - 20
    # lifecycle day 0 and channel move with the customer (open lifecycle tasks keep their day)
    assert all(added_at == day0[member_id] and channel == "counter" for member_id, _g, added_at, channel in moved)
    # refused: lost in WeCom (memberships stay); at limit: still the departed guide's, waiting for a manager
    reasons = sorted(old.values())
    assert (reasons.count("transferred"), reasons.count("transfer_refused"), reasons.count("")) == (N - 20, 12, 8)
    assert max(i.attempts for i in items) <= 4
    # tasks moved: a taken-over customer's open task is the successor's, same lifecycle day and due date;
    # a refused or still-waiting customer's task stays where it was. Every brand membership stays, its
    # source guide (attribution history) still the departed guide.
    taken = {i.member_id: i.successor_id for i in items if i.state == "taken_over"}
    assert len(tasks) == N
    assert all(t.guide_id == taken[m] and t.lifecycle_day == 7 and t.due_on == day0[m].date() + dt.timedelta(days=9)
               for m, t in tasks.items() if m in taken)
    assert all(t.guide_id == departed.pk for m, t in tasks.items() if m not in taken)
    assert sources == [departed.pk] * N
