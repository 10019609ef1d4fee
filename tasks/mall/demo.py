"""Demo campaigns: one mall-wide contest and one brand's own, published and partly claimed, through the services.

Idempotent like the rest of the demo seed: a campaign whose title exists is left alone.
"""

from __future__ import annotations

import datetime as dt

from guides.models import Guide, GuideStatus
from tenants.models import Brand

from .models import Campaign, CampaignAudience, CampaignMetric
from .services import campaign_claim, campaign_progress_refresh, campaign_publish, campaign_save

ACTOR = "command:seed_demo"
MALL_TITLE = "雨天线上销售赛 Rainy-day online selling contest"
BRAND_TITLE = "新客拉新周 New-customer week"


def seed_campaigns(*, brands: list[Brand], now: dt.datetime, created) -> None:
    if not Campaign.objects.filter(title=MALL_TITLE).exists():
        campaign = campaign_save(
            owner=None, actor=ACTOR, title=MALL_TITLE, audience=CampaignAudience.ALL,
            description="今天暴雨，客流少：用专属链接线上成交，达标得金币，前三名再奖励。"
                        "Heavy rain today: sell online through your links; reach the target for coins, top 3 get more.",
            script="下雨天不用出门～这是我为您挑的几件，点链接直接下单，包邮到家。",
            starts_at=now - dt.timedelta(hours=2), ends_at=now + dt.timedelta(days=2),
            metric=CampaignMetric.SALES, target=100_000, reward_coins=50, reward_exp=80,
            top_n=3, top_coins=100, top_exp=100)
        campaign_publish(owner=None, campaign_id=campaign.pk, actor=ACTOR, now=now)
        created["campaigns"] += 1
        _claims(campaign, Guide.objects.filter(status=GuideStatus.ACTIVE).order_by("id")[::3], now)
    brand = next((b for b in brands if b.slug == "lancome"), None)
    if brand is not None and not Campaign.objects.filter(title=BRAND_TITLE, brand=brand).exists():
        campaign = campaign_save(
            owner=brand, actor=ACTOR, title=BRAND_TITLE, audience=CampaignAudience.ALL,
            description="本周每位导购新增5位企业微信客户即得奖励。Add 5 WeCom customers this week for a reward.",
            script="您好，加我企业微信，新品试用和会员礼第一时间通知您～",
            starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=6),
            metric=CampaignMetric.CUSTOMERS, target=5, reward_coins=30, reward_exp=30)
        campaign_publish(owner=brand, campaign_id=campaign.pk, actor=ACTOR, now=now)
        created["campaigns"] += 1
        _claims(campaign, Guide.objects.filter(brand=brand, status=GuideStatus.ACTIVE).order_by("id")[:3], now)


def _claims(campaign: Campaign, guides, now: dt.datetime) -> None:
    for guide in guides:
        campaign_claim(guide=guide, campaign_id=campaign.pk, now=now)
    campaign_progress_refresh(campaign_id=campaign.pk, now=now)
