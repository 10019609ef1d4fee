"""Mall ops (Django admin): create a mall campaign for stores, publish it, follow progress per guide; a brand's
campaign is view only, its per-guide progress shown only when the brand shares everything."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tasks.mall import services
from tasks.mall.models import Campaign
from tests.admin.conftest import admin_url

pytestmark = pytest.mark.django_db

FMT_DATE, FMT_TIME = "%Y-%m-%d", "%H:%M:%S"


def _post(**overrides):
    start = timezone.localtime() - dt.timedelta(hours=1)
    end = start + dt.timedelta(days=1)
    data = {"title": "静安店雨天赛", "description": "", "script": "", "audience": "stores",
            "starts_at_0": start.strftime(FMT_DATE), "starts_at_1": start.strftime(FMT_TIME),
            "ends_at_0": end.strftime(FMT_DATE), "ends_at_1": end.strftime(FMT_TIME), "metric": "sales",
            "target_amount": "2000", "reward_coins": "100", "reward_exp": "50", "top_n": "3", "top_coins": "200",
            "top_exp": "100"}
    data.update(overrides)
    return data


def test_mall_ops_create_publish_and_follow_a_campaign(world, staff, admin_client_for):
    client = admin_client_for(staff.operator)

    bad = client.post(admin_url("tasks_mall_campaign_add"), _post(stores=[]))
    created = client.post(admin_url("tasks_mall_campaign_add"), _post(stores=[world.jingan.pk]))
    campaign = Campaign.objects.get()
    client.post(admin_url("tasks_mall_campaign_changelist"), {"action": "publish", "_selected_action": [campaign.pk]})
    services.campaign_claim(guide=world.nick, campaign_id=campaign.pk)
    changelist = client.get(admin_url("tasks_mall_campaign_changelist")).content.decode()
    page = client.get(admin_url("tasks_mall_campaign_change", campaign.pk)).content.decode()

    assert bad.status_code == 200 and "请至少选择一个门店" in bad.content.decode()
    assert created.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.brand, campaign.state, campaign.target, campaign.top_n) == (None, "published", 200000, 3)
    assert "静安店雨天赛" in changelist and "商场 Mall" in changelist
    assert "王尼克" in page and "¥0" in page  # the progress table
    assert 'name="title"' not in page  # published: view only


def test_a_brand_campaign_is_view_only_and_aggregates_only_unless_the_brand_shares(world, brand_a, make_campaign,
                                                                                   staff, admin_client_for):
    campaign = make_campaign(brand_a, title="兰蔻自己的活动")
    services.campaign_claim(guide=world.ana, campaign_id=campaign.pk)
    client = admin_client_for(staff.admin)

    aggregates = client.get(admin_url("tasks_mall_campaign_change", campaign.pk)).content.decode()
    type(brand_a).objects.filter(pk=brand_a.pk).update(sharing_policy="full")
    shared = client.get(admin_url("tasks_mall_campaign_change", campaign.pk)).content.decode()

    assert "仅汇总" in aggregates and "陈小美" not in aggregates
    assert "陈小美" in shared
    assert 'name="title"' not in shared


def test_an_analyst_may_look_but_not_create(world, staff, admin_client_for, make_campaign):
    make_campaign()
    client = admin_client_for(staff.analyst)

    assert client.get(admin_url("tasks_mall_campaign_changelist")).status_code == 200
    assert client.get(admin_url("tasks_mall_campaign_add")).status_code == 403
