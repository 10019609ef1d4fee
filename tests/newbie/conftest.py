"""Newbie checklist fixtures: new guides (hired a few days ago), their customers, tasks and links."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

_seq = itertools.count(1)


@pytest.fixture
def newbie(make_guide):
    """newbie(brand, days_ago=3) -> an active guide hired ``days_ago`` days ago (a newbie for 60 days)."""
    from guides.models import Guide

    def make(brand, *, name="新人小林", days_ago=3, userid=None):
        guide = make_guide(brand, name=name, userid=userid or f"nb-{brand.slug}-{next(_seq)}")
        Guide.objects.filter(pk=guide.pk).update(hired_on=timezone.localdate() - dt.timedelta(days=days_ago))
        guide.refresh_from_db()
        return guide

    return make


@pytest.fixture
def add_customer(enroll):
    """add_customer(guide) -> (member, relationship): a customer who added the guide just now."""
    from guides.services import relationship_record

    def add(guide, *, name=None, **identity):
        n = next(_seq)
        identity = identity or {"unionid": f"u-newbie-{guide.brand.slug}-{n}"}
        member = enroll(guide.brand, guide=guide, channel="poster", **identity).member
        relationship, _ = relationship_record(guide=guide, member=member, channel="poster",
                                              added_at=timezone.now())
        return member, relationship

    return add


@pytest.fixture
def lifecycle_task():
    """lifecycle_task(guide, member, state="done") -> a lifecycle GuideTask of the guide (in their brand)."""
    from django_tenants.utils import schema_context

    def make(guide, member, *, state="done", ref="hq:d0"):
        from tasks.models import GuideTask

        today = timezone.localdate()
        with schema_context(guide.brand.schema_name):
            return GuideTask.objects.create(
                source="lifecycle", ref=ref, period=today.isoformat(), guide=guide, member=member, lifecycle_day=0,
                task_type="welcome", title="欢迎礼 + 邀请入群", issued_on=today, due_on=today, state=state,
                completed_at=timezone.now() if state == "done" else None, completed_by="guide" if state == "done" else "")

    return make


@pytest.fixture
def share_link():
    def make(guide, target="SKU-1"):
        from incentives.attribution import share_link_create

        return share_link_create(guide=guide, kind="product", target_id=target, title="小黑瓶精华",
                                 target_url="https://mall.example.com/p/1")

    return make


@pytest.fixture
def sidebar_as():
    """A mall-host client signed in to the sidebar as ``guide`` through the demo picker."""
    from django.test import Client

    def sign_in(guide):
        client = Client(HTTP_HOST="localhost")
        assert client.post("/sidebar/login/", {"guide_id": guide.pk}).status_code == 302
        return client

    return sign_in


@pytest.fixture
def sim(settings):
    """An in-thread WeCom simulator that sends no callbacks (the tests drive the platform directly)."""
    from scrm.health import _redis
    from wecom.simulator import SimConfig, start_in_thread
    from wecom.simulator.client import SimulatorControl

    config = SimConfig(port=0, callback_url="", corp_id=settings.WECOM_CORP_ID, corp_secret=settings.WECOM_SECRET,
                       agent_id=settings.WECOM_AGENT_ID, agent_secret=settings.WECOM_AGENT_SECRET,
                       token=settings.WECOM_TOKEN, aes_key=settings.WECOM_AES_KEY)
    base_url, server = start_in_thread(config)
    settings.WECOM_API_BASE = server.api_base_url
    for key in _redis().scan_iter("scrm:wecom:*"):
        _redis().delete(key)
    try:
        yield SimulatorControl(base_url)
    finally:
        server.stop()


def progress_of(guide) -> dict:
    """{step key: (count, done?, completed_by)} for a guide."""
    from tasks.newbie.models import NewbieProgress

    return {p.step.key: (p.count, p.done_at is not None, p.completed_by)
            for p in NewbieProgress.objects.filter(guide=guide).select_related("step")}


def ledger_of(guide) -> list[tuple[str, int, int]]:
    from incentives.models import RewardEntry

    return sorted(RewardEntry.objects.filter(guide=guide, source="newbie").values_list("source_id", "coins", "exp"))


def coins_of(guide) -> int:
    from incentives.models import GuideBalance

    return GuideBalance.objects.filter(guide=guide).values_list("coins", flat=True).first() or 0
