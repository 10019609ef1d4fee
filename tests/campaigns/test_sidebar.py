"""The guide sidebar: "today" shows the guide's claimed campaigns with a progress bar and a few to claim; the
campaigns page has the rest and the settled ones with their reward."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from tasks.mall import services

pytestmark = pytest.mark.django_db


def test_today_shows_my_claimed_campaign_with_its_progress_and_ones_to_claim(world, brand_a, brand_b, make_campaign,
                                                                             sidebar_as):
    from incentives.services import reward_credit

    claimed = make_campaign(brand_a, title="兰蔻任务赛", metric="tasks", target=4)
    make_campaign(title="全场雨天赛")
    make_campaign(brand_b, title="耐克专属")
    services.campaign_claim(guide=world.ana, campaign_id=claimed.pk)
    reward_credit(guide_id=world.ana.pk, coins=5, exp=5, source="guide_task", source_id="lancome:1")
    services.campaign_progress_refresh(campaign_id=claimed.pk)

    response = sidebar_as(world.ana).get("/sidebar/today/")

    body = response.content.decode()
    cards = re.findall(r'data-testid="campaign" data-campaign="\d+">\s*<div class="sb-task-head">\s*<span class="nm">'
                       r'([^<]+)</span>', body)
    assert cards == ["兰蔻任务赛", "全场雨天赛"]
    assert 'aria-valuenow="25"' in body and 'data-testid="campaign-progress-value">1 个' in body
    assert body.count('data-testid="campaign-claim"') == 1
    assert "耐克专属" not in body
    assert 'data-testid="tab-today"' in body  # the tab bar is as it was


def test_the_campaigns_page_lists_settled_campaigns_with_the_reward(world, make_campaign, sidebar_as):
    from incentives import attribution

    now = timezone.now()
    done = make_campaign(title="上周销售赛", starts_at=now - dt.timedelta(days=3), ends_at=now - dt.timedelta(days=1),
                         target=1000, reward_coins=80, reward_exp=40)
    services.campaign_claim(guide=world.ana, campaign_id=done.pk, now=done.starts_at)
    link = attribution.share_link_create(guide=world.ana, kind="product", target_id="SKU", title="t",
                                         target_url="https://shop.example.com/p/1")
    paid = done.starts_at + dt.timedelta(hours=2)
    attribution.order_paid(brand=world.ana.brand, order_id="SB-1", amount_cents=5000, paid_at=paid, channel="pos",
                           share_token=attribution.share_token_make(link, at=paid - dt.timedelta(minutes=1)))
    services.campaign_settle(campaign_id=done.pk)

    body = sidebar_as(world.ana).get("/sidebar/campaigns/").content.decode()

    assert 'data-testid="campaigns-finished"' in body and "上周销售赛" in body
    assert "已发放 +80 金币 · +40 经验" in body
    assert 'data-testid="no-campaigns"' in body  # nothing running
