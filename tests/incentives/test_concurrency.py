"""Concurrent deliveries on real connections (committed data): no deadlock, nothing counted twice."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

from django.db import connections

from incentives import attribution
from incentives.models import GuideBalance, ShareLink
from tests.live import committed


def _world(links: int):
    from guides.models import Guide
    from members.services import Identity, member_enroll
    from tenants.models import Brand, Counter, Store

    suffix = uuid.uuid4().hex[:6]
    brand = Brand.objects.get(slug="lancome")
    store = Store.objects.create(code=f"CC{suffix}", name="并发店", city="上海", address="-", latitude="31.2",
                                 longitude="121.4")
    counter = Counter.objects.create(brand=brand, store=store, code=f"CC-{suffix}", name="并发专柜")
    guide = Guide.objects.create(wecom_userid=f"cc-{suffix}", name="并发", brand=brand, counter=counter,
                                 hired_on=dt.date(2025, 1, 1))
    member = member_enroll(brand=brand, identity=Identity(unionid=f"cc-{suffix}")).member
    made = [attribution.share_link_create(guide=guide, kind="product", target_id=f"SKU-{i}", title="t",
                                          target_url="https://s.example.com/") for i in range(links)]
    return brand, guide, member, made


def _race(targets) -> list[Exception]:
    errors, barrier = [], threading.Barrier(len(targets))

    def run(target):
        try:
            barrier.wait(timeout=10)
            target()
        except Exception as exc:  # surfaced by the caller's assertion
            errors.append(exc)
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_batches_over_the_same_links_in_opposite_orders_do_not_deadlock(django_db_setup, django_db_blocker):
    with committed(django_db_blocker):
        _, guide, _, links = _world(80)
        codes = [link.code for link in links]

        def batch(order, round_):
            return lambda: [attribution.share_events_ingest(events=[
                attribution.ShareEventIn(event_id=f"{round_}-{i}-{code}-{r}", kind="like", share_code=code,
                                         visitor=f"{round_}-{r}-{i}")
                for i, code in enumerate(order)]) for r in range(10)]

        errors = _race([batch(codes, "up"), batch(codes[::-1], "down"), batch(codes, "again"), batch(codes[::-1], "back")])

        try:
            assert errors == []
            assert sum(ShareLink.objects.filter(guide=guide).values_list("liked", flat=True)) == 4 * 10 * 80
        finally:
            GuideBalance.objects.filter(guide=guide).delete()


def test_the_same_order_delivered_six_times_at_once_pays_once(django_db_setup, django_db_blocker):
    from members.models import Member

    with committed(django_db_blocker):
        brand, guide, member, links = _world(1)
        token = attribution.share_token_make(links[0])
        results = []

        def pay():
            results.append(attribution.order_paid(brand=brand, order_id="RACE-1", amount_cents=30000,
                                                  paid_at=dt.datetime.now(dt.UTC), channel="pos",
                                                  member_code=member.code, share_token=token).replayed)

        errors = _race([pay] * 6)

        try:
            assert errors == []
            assert sorted(results) == [False] + [True] * 5
            assert Member.objects.get(pk=member.pk).points_balance == 300
            assert GuideBalance.objects.get(guide=guide).coins == 30
            assert ShareLink.objects.get(pk=links[0].pk).bought == 1
        finally:
            GuideBalance.objects.filter(guide=guide).delete()
