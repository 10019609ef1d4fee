"""Claiming (领取): only a guide the campaign reaches, only while it runs; another brand's campaign does not
exist for the guide; claiming twice is one claim. The sidebar's JSON call answers 4xx with a code."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from scrm.errors import AppError
from tasks.mall import services
from tasks.mall.models import CampaignClaim

pytestmark = pytest.mark.django_db


def _refusal(guide, campaign, **kwargs):
    with pytest.raises(AppError) as error:
        services.campaign_claim(guide=guide, campaign_id=campaign.pk, **kwargs)
    return error.value.status, error.value.code


def test_a_guide_in_the_audience_claims_once(world, make_campaign):
    campaign = make_campaign(audience="stores", store_ids=[world.jingan.pk])

    first = services.campaign_claim(guide=world.ana, campaign_id=campaign.pk)
    again = services.campaign_claim(guide=world.ana, campaign_id=campaign.pk)

    assert first.pk == again.pk
    assert CampaignClaim.objects.filter(campaign=campaign).count() == 1


def test_claim_rules(world, brand_a, brand_b, make_campaign):
    xuhui_only = make_campaign(audience="stores", store_ids=[world.xuhui.pk])
    nike = make_campaign(brand_b)
    draft = make_campaign(publish=False)
    past = make_campaign(starts_at=timezone.now() - dt.timedelta(days=3), ends_at=timezone.now() - dt.timedelta(days=1))
    running = make_campaign()

    assert _refusal(world.ana, xuhui_only) == (403, "not_in_audience")
    assert _refusal(world.ana, nike) == (404, "campaign_not_found")  # another brand's: it does not exist for her
    assert _refusal(world.ana, draft) == (404, "campaign_not_found")
    assert _refusal(world.ana, past) == (409, "campaign_ended")
    assert _refusal(world.gone, running) == (403, "guide_resigned")
    assert _refusal(world.ana, running, now=running.ends_at) == (409, "campaign_ended")
    assert not CampaignClaim.objects.exists()


def test_the_sidebar_claims_as_json_with_codes(world, brand_b, make_campaign, sidebar_as):
    mine = make_campaign()
    nike = make_campaign(brand_b)
    client = sidebar_as(world.ana)

    ok = client.post(f"/sidebar/api/campaigns/{mine.pk}/claim/")
    missing = client.post(f"/sidebar/api/campaigns/{nike.pk}/claim/")
    unknown = client.post(f"/sidebar/api/campaigns/{mine.pk + nike.pk + 100}/claim/")

    assert ok.status_code == 200 and ok.json()["campaign"] == mine.pk
    assert missing.status_code == 404
    assert missing.json() == {"code": "campaign_not_found", "message": "活动不存在 Campaign not found", "fields": {}}
    assert unknown.status_code == 404
    assert CampaignClaim.objects.filter(guide=world.ana).count() == 1


def test_the_sidebar_form_claims_and_says_why_not(world, make_campaign, sidebar_as):
    open_to_her = make_campaign(title="全场冲刺")
    not_hers = make_campaign(title="徐汇专享", audience="stores", store_ids=[world.xuhui.pk])
    client = sidebar_as(world.ana)

    claimed = client.post(f"/sidebar/campaigns/{open_to_her.pk}/claim/", {"next": "/sidebar/today/"}, follow=True)
    refused = client.post(f"/sidebar/campaigns/{not_hers.pk}/claim/", {"next": "/sidebar/today/"}, follow=True)

    assert "已领取 ✓ Claimed: 全场冲刺" in claimed.content.decode()
    assert "您不在本活动的参与范围内" in refused.content.decode()
    assert list(CampaignClaim.objects.values_list("campaign_id", flat=True)) == [open_to_her.pk]
