"""The demo's incentives (seed_demo): links, events, orders through the services, a partial refund, rewards, star
guides and a redemption; a re-run creates nothing. (tests/commands/test_seed_demo.py runs the whole seed.)"""

from __future__ import annotations

from collections import Counter as Tally

import pytest
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import schema_context

from guides.services import relationship_record
from incentives import attribution, leaderboards
from incentives.brand.models import Order, OrderRefund
from incentives.demo import seed_incentives
from incentives.models import GuideBalance, Redemption, Reward, RewardEntry, ShareEvent, ShareLink, StarGuide
from members.models import Member, PointsEntry
from tenants.models import AuditEvent


@pytest.fixture
def demo(brand_a, brand_b, make_guide, enroll):
    guides = {brand.pk: [make_guide(brand, userid=f"demo-{brand.slug}-{i}", name=f"{brand.slug}{i}")
                         for i in range(5)] for brand in (brand_a, brand_b)}
    for brand in (brand_a, brand_b):
        for i in range(3):  # the top guide's own customers
            member = enroll(brand, guide=guides[brand.pk][0], unionid=f"demo-{brand.slug}-{i}").member
            relationship_record(guide=guides[brand.pk][0], member=member, added_at=timezone.now())
    return dict(brands=[brand_a, brand_b], guides=guides)


def _seed(demo) -> Tally:
    created = Tally()
    seed_incentives(brands=demo["brands"], guides=demo["guides"], now=timezone.now(), created=created)
    return +created


def _state(demo) -> dict:
    state = {"links": list(ShareLink.objects.order_by("pk").values_list("pk", "opened", "liked", "carted", "bought",
                                                                        "sales_cents")),
             "balances": list(GuideBalance.objects.order_by("guide_id").values_list("guide_id", "coins", "exp")),
             "points": list(Member.objects.order_by("pk").values_list("pk", "points_balance")),
             "audit": AuditEvent.objects.count(), "events": ShareEvent.objects.count(),
             "rewards": list(Reward.objects.order_by("pk").values_list("pk", "stock")),
             "stars": StarGuide.objects.count(), "redemptions": Redemption.objects.count()}
    for brand in demo["brands"]:
        with schema_context(brand.schema_name):
            state[brand.slug] = list(Order.objects.order_by("pk").values_list("order_id", "refunded_cents"))
    return state


def test_the_demo_gets_links_orders_rewards_and_stars_through_the_services(demo, brand_a):
    created = _seed(demo)

    assert created["share links"] == 2 * 5 * 3 and created["orders"] == 2 * (4 + 3 + 2 + 1)
    assert (created["refunds"], created["star guides"], created["redemptions"]) == (2, 2, 2)
    assert created["rewards"] == 4 + 2 and created["share events"] > 0
    with schema_context(brand_a.schema_name):
        orders = list(Order.objects.all())
        assert {o.attributed_by for o in orders} == {"share_link", "current_guide"}
        assert OrderRefund.objects.get(refund_id="DEMO-RF-1").order.status == "partially_refunded"
    top = demo["guides"][brand_a.pk][0]
    assert ShareLink.objects.filter(guide=top).aggregate(b=Sum("bought"))["b"] >= 1
    assert Redemption.objects.get(guide=top).state == "pending"
    assert StarGuide.objects.filter(guide=top).exists()


def test_ledgers_agree_after_the_demo(demo):
    _seed(demo)

    for balance in GuideBalance.objects.all():
        sums = RewardEntry.objects.filter(guide_id=balance.guide_id).aggregate(c=Sum("coins"), e=Sum("exp"))
        assert (balance.coins, balance.exp) == (sums["c"], sums["e"])
    for member in Member.objects.filter(points_balance__gt=0):
        assert member.points_balance == PointsEntry.objects.filter(member=member).aggregate(t=Sum("amount"))["t"]


def test_a_second_run_creates_and_changes_nothing(demo):
    _seed(demo)
    before = _state(demo)

    assert _seed(demo) == Tally()
    assert _state(demo) == before


def test_a_demo_order_refunded_meanwhile_is_left_alone(demo, brand_a):
    _seed(demo)
    order_id = f"DEMO-{demo['guides'][brand_a.pk][0].wecom_userid}-2"
    attribution.order_refunded(brand=brand_a, order_id=order_id)  # the rest of it, in the running demo

    assert _seed(demo) == Tally()


def test_the_boards_are_rebuilt_once_the_seed_commits(demo, brand_a, clean_redis, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _seed(demo)

    key = leaderboards.board_key("sales", "month", timezone.now(), "brand", brand_a.pk)
    assert clean_redis.zcard(key) >= 1
    assert clean_redis.zrevrange(key, 0, 0)[0] == str(demo["guides"][brand_a.pk][0].pk).encode()
