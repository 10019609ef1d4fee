"""Progress is measured from the record (attributed orders, customers added, task rewards) over the campaign's
window; settlement credits each reaching claim once (plus the top-N bonus), and running it twice changes
nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from incentives import attribution
from incentives.models import GuideBalance, RewardEntry
from tasks.mall import services
from tasks.mall.models import CampaignClaim

pytestmark = pytest.mark.django_db

NOW = timezone.now()
START, END = NOW - dt.timedelta(days=3), NOW - dt.timedelta(days=1)


def _sell(guide, order_id, cents, paid_at):
    link = attribution.share_link_create(guide=guide, kind="product", target_id="SKU-C", title="小黑瓶",
                                         target_url="https://shop.example.com/p/1")
    attribution.order_paid(brand=guide.brand, order_id=order_id, amount_cents=cents, paid_at=paid_at,
                           channel="mini_program",
                           share_token=attribution.share_token_make(link, at=paid_at - dt.timedelta(minutes=5)))


def _claims(campaign):
    return {c.guide_id: (c.progress, c.reached) for c in CampaignClaim.objects.filter(campaign=campaign)}


def _ledger(campaign):
    return sorted(RewardEntry.objects.filter(source="campaign", source_id=str(campaign.pk))
                  .values_list("guide_id", "coins", "exp"))


def test_sales_progress_counts_attributed_orders_inside_the_window_only(world, make_campaign):
    campaign = make_campaign(starts_at=START, ends_at=END, target=100000)  # ¥1,000
    for guide in (world.ana, world.amy, world.nick):
        services.campaign_claim(guide=guide, campaign_id=campaign.pk, now=START)
    _sell(world.ana, "C-A1", 80000, START + dt.timedelta(hours=2))
    _sell(world.ana, "C-A2", 30000, START + dt.timedelta(hours=5))
    _sell(world.ana, "C-A3", 90000, START - dt.timedelta(hours=1))  # before the window
    _sell(world.amy, "C-M1", 50000, START + dt.timedelta(hours=3))
    _sell(world.amy, "C-M2", 70000, START + dt.timedelta(hours=4))
    attribution.order_refunded(brand=world.amy.brand, order_id="C-M2")  # refunded: it no longer counts
    _sell(world.nick, "C-N1", 120000, END + dt.timedelta(minutes=1))  # after it
    _sell(world.floater, "C-F1", 500000, START + dt.timedelta(hours=1))  # did not claim

    updated = services.campaign_progress_refresh(campaign_id=campaign.pk, now=END - dt.timedelta(minutes=1))

    assert updated == 3
    assert _claims(campaign) == {world.ana.pk: (110000, True), world.amy.pk: (50000, False),
                                 world.nick.pk: (0, False)}


def test_customers_added_in_the_window_are_progress(world, brand_a, make_campaign, enroll):
    from guides.services import relationship_record

    campaign = make_campaign(brand_a, metric="customers", target=2, starts_at=START, ends_at=END)
    services.campaign_claim(guide=world.ana, campaign_id=campaign.pk, now=START)
    for n, added_at in enumerate([START + dt.timedelta(hours=1), START + dt.timedelta(hours=9),
                                  END + dt.timedelta(hours=1)]):
        member = enroll(brand_a, guide=world.ana, channel="poster", unionid=f"u-camp-{n}").member
        relationship_record(guide=world.ana, member=member, channel="poster", added_at=added_at)

    services.campaign_progress_refresh(campaign_id=campaign.pk, now=END)

    assert _claims(campaign) == {world.ana.pk: (2, True)}


def test_tasks_completed_are_progress(world, make_campaign):
    from incentives.services import reward_credit

    campaign = make_campaign(metric="tasks", target=3, starts_at=NOW - dt.timedelta(hours=1),
                             ends_at=NOW + dt.timedelta(hours=1))
    services.campaign_claim(guide=world.amy, campaign_id=campaign.pk)
    for n in range(2):
        reward_credit(guide_id=world.amy.pk, coins=5, exp=5, source="guide_task", source_id=f"brand_x:{n}")

    services.campaign_progress_refresh(campaign_id=campaign.pk)

    assert _claims(campaign) == {world.amy.pk: (2, False)}


def test_settlement_credits_once_with_the_top_n_bonus_and_a_second_run_changes_nothing(world, make_campaign):
    campaign = make_campaign(starts_at=START, ends_at=END, target=100000, reward_coins=100, reward_exp=50,
                             top_n=1, top_coins=200, top_exp=100)
    for guide in (world.ana, world.amy, world.nick):
        services.campaign_claim(guide=guide, campaign_id=campaign.pk, now=START)
    _sell(world.ana, "S-A1", 150000, START + dt.timedelta(hours=1))
    _sell(world.nick, "S-N1", 300000, START + dt.timedelta(hours=2))
    _sell(world.amy, "S-M1", 20000, START + dt.timedelta(hours=2))
    coins_before = dict(GuideBalance.objects.values_list("guide_id", "coins"))

    too_early = services.campaign_settle(campaign_id=campaign.pk, now=END + dt.timedelta(minutes=10))  # grace
    first = services.campaign_settle(campaign_id=campaign.pk, now=END + dt.timedelta(hours=1))
    second = services.campaign_settle(campaign_id=campaign.pk, now=END + dt.timedelta(hours=2))

    campaign.refresh_from_db()
    claims = {c.guide_id: c for c in CampaignClaim.objects.filter(campaign=campaign)}
    assert (too_early.settled, first.settled, first.credited, second.settled) == (False, True, 2, False)
    assert campaign.state == "settled"
    assert _ledger(campaign) == sorted([(world.nick.pk, 300, 150), (world.ana.pk, 100, 50)])
    assert [(claims[g.pk].rank, claims[g.pk].reward_coins) for g in (world.nick, world.ana, world.amy)] == [
        (1, 300), (2, 100), (None, 0)]
    assert all(claim.settled_at for claim in claims.values())
    coins_after = dict(GuideBalance.objects.values_list("guide_id", "coins"))
    assert coins_after[world.nick.pk] - coins_before.get(world.nick.pk, 0) == 300


def test_the_ledger_refuses_a_second_credit_even_if_a_claim_is_reopened(world, make_campaign):
    """Belt and braces: a settled claim forced back to unsettled is still credited only once."""
    campaign = make_campaign(starts_at=START, ends_at=END, target=1000)
    services.campaign_claim(guide=world.ana, campaign_id=campaign.pk, now=START)
    _sell(world.ana, "R-A1", 5000, START + dt.timedelta(hours=1))
    services.campaign_settle(campaign_id=campaign.pk, now=END + dt.timedelta(hours=1))
    type(campaign).objects.filter(pk=campaign.pk).update(state="published")
    CampaignClaim.objects.filter(campaign=campaign).update(settled_at=None)

    again = services.campaign_settle(campaign_id=campaign.pk, now=END + dt.timedelta(hours=2))

    assert (again.settled, again.credited) == (True, 0)
    assert _ledger(campaign) == [(world.ana.pk, 100, 50)]


def test_the_beat_jobs_measure_running_campaigns_and_settle_ended_ones_once(world, make_campaign):
    from tasks.mall import tasks

    running = make_campaign(title="进行中")  # nobody claimed it: measuring it is a no-op, not an error
    ended = make_campaign(title="已结束", starts_at=START, ends_at=END, target=1000)
    services.campaign_claim(guide=world.ana, campaign_id=ended.pk, now=START)
    _sell(world.ana, "B-A1", 5000, START + dt.timedelta(hours=1))

    live = tasks.campaigns_live_dispatch()  # eager in tests: the per-campaign jobs run here
    settled_first, settled_again = tasks.campaigns_settle_due(), tasks.campaigns_settle_due()

    running.refresh_from_db()
    ended.refresh_from_db()
    assert (live, running.state, running.progress_at is not None) == (1, "published", True)
    assert (settled_first, settled_again, ended.state) == (1, 0, "settled")
    assert _ledger(ended) == [(world.ana.pk, 100, 50)]
