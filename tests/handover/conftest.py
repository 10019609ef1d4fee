"""Handover fixtures: an in-thread WeCom simulator (frozen clock, callbacks recorded not sent) and a
departed guide with customers both in the platform and in the simulator."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from tests.e2e.conftest import guide_factory, platform_url, simulator, world  # noqa: F401 (fixtures for the e2e test)


@pytest.fixture
def sim(settings):
    from scrm.health import _redis
    from wecom.simulator import SimConfig, start_in_thread
    from wecom.simulator.client import SimulatorControl

    config = SimConfig(port=0, callback_url="", frozen=True, takeover_delay_seconds=60,
                       corp_id=settings.WECOM_CORP_ID, corp_secret=settings.WECOM_SECRET,
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


@pytest.fixture
def team(brand_a, make_guide, sim, enroll, settings):
    """A departed guide (resigned in WeCom and here) with ``n`` customers, and active colleagues."""
    from guides.models import Guide
    from guides.services import guide_resign, relationship_record

    def make(n: int = 6, colleagues: int = 2, resign: bool = True, prefix: str = "t"):
        departed = make_guide(brand_a, userid=f"{prefix}-departed", name="离职导购")
        others = [make_guide(brand_a, userid=f"{prefix}-succ{i}", name=f"接替{i}") for i in range(colleagues)]
        for guide in [departed, *others]:
            sim.member(guide.wecom_userid, name=guide.name, silent=True)
        euids = sim.customers(n, name_prefix="顾客")
        sim.seed_follows([{"userid": departed.wecom_userid, "external_userid": e, "state": "poster"} for e in euids])
        day0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
        members = []
        for i, euid in enumerate(euids):
            member = enroll(brand_a, guide=departed, channel="poster", external_userid=euid,
                            corp_id=settings.WECOM_CORP_ID).member
            relationship_record(guide=departed, member=member, external_userid=euid, channel="poster",
                                state="poster", added_at=day0 + dt.timedelta(days=i))
            members.append(member)
        if resign:
            sim.resign(departed.wecom_userid)
            guide_resign(guide=departed, source="test")  # on_commit does not run under the db fixture
            departed = Guide.objects.select_related("brand", "counter").get(pk=departed.pk)
        return departed, others, euids, members

    return make


@pytest.fixture
def in_brand(brand_a):
    with schema_context(brand_a.schema_name):
        yield brand_a
