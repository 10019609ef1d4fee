"""The dormant trigger (沉睡唤醒) finds its customers through a week of activity, not by reading every member:
every kind of last activity still counts, and only this brand's."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from tests.tasks.conftest import at_shanghai

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 9)  # dormant: N = 60 days, due window 7 days -> last activity on D-66 ... D-60


def ago(days: int) -> dt.date:
    return D - dt.timedelta(days=days)


def _task_done(brand, guide, member, day):
    from tasks.models import GuideTask

    with schema_context(brand.schema_name):
        GuideTask.objects.create(source="lifecycle", ref="hq:d7", period="2025-11-01", guide=guide, member=member,
                                 lifecycle_day=7, task_type="benefits", title="新会员7天权益", issued_on=day,
                                 due_on=day, state="done", completed_at=at_shanghai(day), completed_by="guide")


def _points_earned(brand, guide, member, day):
    from members.models import PointsEntry

    entry = PointsEntry.objects.create(member=member, kind="earn", amount=100, remaining=100, brand=brand,
                                       expires_at=at_shanghai(D + dt.timedelta(days=365)),
                                       idempotency_key=f"t-dormant-{brand.slug}-{member.pk}")
    PointsEntry.objects.filter(pk=entry.pk).update(created_at=at_shanghai(day))


def _coupon_redeemed(brand, guide, member, day):
    from members.brand.models import BrandCoupon, BrandCouponTemplate

    with schema_context(brand.schema_name):
        template, _ = BrandCouponTemplate.objects.get_or_create(name="回店礼", kind="cash", value_cents=2000)
        BrandCoupon.objects.create(template=template, member=member, state="redeemed", code=f"TD{member.pk:06d}",
                                   valid_until=at_shanghai(day + dt.timedelta(days=30)), redeemed_at=at_shanghai(day))


def _nothing(brand, guide, member, day):
    pass


ACTIVITY = {"nothing": _nothing, "task_done": _task_done, "points_earned": _points_earned,
            "coupon_redeemed": _coupon_redeemed}


def dormant_tasks(brand) -> list[tuple[int, str]]:
    from tasks.models import GuideTask

    with schema_context(brand.schema_name):
        return list(GuideTask.objects.filter(trigger_kind="dormant").values_list("member_id", "period"))


@pytest.mark.parametrize(("added", "activity", "on", "last_active"), [
    (60, "nothing", 0, [60]),  # added 60 days ago, nothing since
    (66, "nothing", 0, [66]),  # the window's first day: issued late, still due
    (100, "task_done", 60, [60]),
    (100, "points_earned", 62, [62]),
    (100, "coupon_redeemed", 63, [63]),
    (60, "points_earned", 10, []),  # active 10 days ago
    (60, "task_done", 59, []),  # the last activity is one day too recent
    (100, "nothing", 0, []),  # dormant since 40 days ago: reminded then, not again
])
def test_the_last_activity_of_any_kind_60_days_ago_makes_a_customer_dormant(
        brand_a, make_guide, customer, added, activity, on, last_active):
    from tasks.engine import generate

    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=ago(added))
    ACTIVITY[activity](brand_a, guide, member, ago(on))

    generate(brand=brand_a, day=D)

    assert dormant_tasks(brand_a) == [(member.pk, ago(days).isoformat()) for days in last_active]


def test_points_earned_at_another_brand_are_not_activity_here(brand_a, brand_b, make_guide, customer):
    from tasks.engine import generate

    member, _ = customer(brand_a, make_guide(brand_a), day0=ago(100))
    _points_earned(brand_b, None, member, ago(61))

    generate(brand=brand_a, day=D)

    assert dormant_tasks(brand_a) == []


def test_an_ended_relationship_is_no_customer_to_wake(brand_a, make_guide, customer):
    from guides.brand.models import Relationship
    from tasks.engine import generate

    _, relationship = customer(brand_a, make_guide(brand_a), day0=ago(61))
    with schema_context(brand_a.schema_name):
        Relationship.objects.filter(pk=relationship.pk).update(status="ended", ended_at=at_shanghai(ago(5)))

    generate(brand=brand_a, day=D)

    assert dormant_tasks(brand_a) == []
