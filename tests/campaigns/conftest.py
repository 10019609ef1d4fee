"""Campaign fixtures: two stores, counters of two brands in them, guides at each, and a campaign maker."""

from __future__ import annotations

import datetime as dt
import itertools
from types import SimpleNamespace

import pytest
from django.utils import timezone

from tests.admin.conftest import admin_client_for, staff  # noqa: F401 (fixtures)
from tests.dashboard.conftest import brand_client, lancome, manager_a  # noqa: F401 (fixtures)
from tests.sidebar.conftest import mall_client, sidebar_as  # noqa: F401 (fixtures)

_seq = itertools.count(1)


@pytest.fixture
def world(brand_a, brand_b):
    """静安 has a Lancôme and a Nike counter, 徐汇 a Lancôme counter; one guide at each, a Lancôme guide without
    a counter and one who resigned."""
    from guides.models import Guide
    from tenants.models import Counter, Store

    def store(code, name):
        return Store.objects.create(code=code, name=name, city="上海", address="南京西路1618号", latitude="31.229000",
                                    longitude="121.446000")

    def guide(brand, counter, name, status="active"):
        return Guide.objects.create(wecom_userid=f"cg-{brand.slug}-{next(_seq)}", name=name, brand=brand,
                                    counter=counter, status=status, hired_on=dt.date(2025, 1, 1),
                                    resigned_on=dt.date(2026, 1, 1) if status == "resigned" else None)

    jingan, xuhui = store("CJA", "静安店 Jing'an"), store("CXH", "徐汇店 Xuhui")
    a_jingan = Counter.objects.create(brand=brand_a, store=jingan, code="CJA-LAN", name="兰蔻静安专柜", floor="1F")
    a_xuhui = Counter.objects.create(brand=brand_a, store=xuhui, code="CXH-LAN", name="兰蔻徐汇专柜", floor="1F")
    b_jingan = Counter.objects.create(brand=brand_b, store=jingan, code="CJA-NIK", name="耐克静安专柜", floor="2F")
    return SimpleNamespace(
        jingan=jingan, xuhui=xuhui, a_jingan=a_jingan, a_xuhui=a_xuhui, b_jingan=b_jingan,
        ana=guide(brand_a, a_jingan, "陈小美"), amy=guide(brand_a, a_xuhui, "李安妮"),
        nick=guide(brand_b, b_jingan, "王尼克"), floater=guide(brand_a, None, "赵流动"),
        gone=guide(brand_a, a_jingan, "已离职", status="resigned"),
    )


def campaign_settings(**overrides) -> dict:
    now = timezone.now()
    settings = dict(title="雨天线上销售赛 Rainstorm online contest", description="下雨天，线上也能卖！",
                    script="亲，今天下雨，线上下单包邮哦～", audience="all", starts_at=now - dt.timedelta(hours=1),
                    ends_at=now + dt.timedelta(days=1), metric="sales", target=100000, reward_coins=100,
                    reward_exp=50)
    settings.update(overrides)
    return settings


@pytest.fixture
def make_campaign():
    """make_campaign(owner=None, publish=True, **settings) -> Campaign (published unless publish=False)."""
    from tasks.mall import services

    def make(owner=None, *, publish=True, **overrides):
        campaign = services.campaign_save(owner=owner, actor="test", **campaign_settings(**overrides))
        if publish:
            campaign = services.campaign_publish(owner=owner, campaign_id=campaign.pk, actor="test",
                                                 now=min(timezone.now(), campaign.ends_at - dt.timedelta(minutes=1)))
        return campaign

    return make


@pytest.fixture
def sim(settings):
    """The bundled WeCom simulator over real HTTP (as tests/incentives/test_summary.py starts it)."""
    from scrm.health import _redis
    from wecom.simulator import SimConfig, start_in_thread
    from wecom.simulator.client import SimulatorControl

    config = SimConfig(port=0, callback_url="", frozen=True, corp_id=settings.WECOM_CORP_ID,
                       corp_secret=settings.WECOM_SECRET, agent_id=settings.WECOM_AGENT_ID,
                       agent_secret=settings.WECOM_AGENT_SECRET, token=settings.WECOM_TOKEN,
                       aes_key=settings.WECOM_AES_KEY)
    base_url, server = start_in_thread(config)
    settings.WECOM_API_BASE = server.api_base_url
    for key in _redis().scan_iter("scrm:wecom:*"):
        _redis().delete(key)
    try:
        yield SimulatorControl(base_url)
    finally:
        server.stop()
