"""Step 3: event triggers generated set-based, automatic completion from evidence, guide confirmation and
rewards credited exactly once."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from tests.tasks.conftest import at_shanghai

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 9)
LONG_AGO = dt.date(2025, 1, 1)  # no lifecycle node is open for such a customer on D


def tasks_of(brand, **filters):
    from tasks.models import GuideTask

    with schema_context(brand.schema_name):
        return list(GuideTask.objects.filter(**filters).order_by("id"))


def run(brand, day=D):
    from tasks.engine import generate

    return generate(brand=brand, day=day)


@pytest.fixture
def brand_coupon(brand_a):
    """brand_coupon(member, state=..., valid_until=..., viewed_at=...) -> BrandCoupon."""
    from members.brand.models import BrandCoupon, BrandCouponTemplate

    seq = iter(range(1, 100))

    def make(member, *, state="issued", valid_until, viewed_at=None):
        with schema_context(brand_a.schema_name):
            template, _ = BrandCouponTemplate.objects.get_or_create(name="满500减50", kind="cash", value_cents=5000)
            return BrandCoupon.objects.create(template=template, member=member, state=state, valid_until=valid_until,
                                              viewed_at=viewed_at, code=f"TB{next(seq):06d}")

    return make


def test_birthday_reminder_n_days_before_once(brand_a, make_guide, customer):
    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=LONG_AGO, birthday=dt.date(1990, 3, 12))
    customer(brand_a, guide, day0=LONG_AGO, birthday=dt.date(1990, 3, 20))  # not yet

    run(brand_a)
    rerun = run(brand_a)

    (task,) = tasks_of(brand_a, trigger_kind="birthday")
    assert (task.member_id, task.period, task.guide_id, task.due_on, task.late) == (
        member.pk, "2026", guide.pk, dt.date(2026, 3, 11), False)
    assert rerun.created == 0


def test_tier_upgrade_from_tier_change_events(brand_a, make_guide, customer):
    from members.models import TierChange

    member, _ = customer(brand_a, make_guide(brand_a), day0=LONG_AGO)
    up = TierChange.objects.create(member=member, from_tier="normal", to_tier="silver", is_upgrade=True)
    down = TierChange.objects.create(member=member, from_tier="silver", to_tier="normal", is_upgrade=False)
    TierChange.objects.filter(pk__in=[up.pk, down.pk]).update(at=at_shanghai(D - dt.timedelta(days=1)))

    run(brand_a)

    (task,) = tasks_of(brand_a, trigger_kind="tier_upgrade")
    assert (task.period, task.late, task.task_type) == (str(up.pk), True, "tier_upgrade")


def test_points_expiring_within_n_days(brand_a, make_guide, customer):
    from members.models import PointsEntry

    soon, _ = customer(brand_a, make_guide(brand_a), day0=LONG_AGO)
    later, _ = customer(brand_a, make_guide(brand_a), day0=LONG_AGO)
    for member, days in ((soon, 20), (later, 45)):
        PointsEntry.objects.create(member=member, kind="earn", amount=100, remaining=100,
                                   expires_at=at_shanghai(D + dt.timedelta(days=days)),
                                   idempotency_key=f"t-points-{member.pk}")

    run(brand_a)

    assert [(t.member_id, t.period) for t in tasks_of(brand_a, trigger_kind="points_expiring")] == [
        (soon.pk, "2026-03")]


def test_coupon_expiring_and_viewed_not_used_then_used_completes_automatically(
        brand_a, make_guide, customer, brand_coupon):
    from members.brand.models import BrandCoupon
    from tasks.models import GuideTask

    member, _ = customer(brand_a, make_guide(brand_a), day0=LONG_AGO)
    expiring = brand_coupon(member, valid_until=at_shanghai(D + dt.timedelta(days=2)))
    viewed = brand_coupon(member, state="viewed", valid_until=at_shanghai(D + dt.timedelta(days=20)),
                          viewed_at=at_shanghai(D - dt.timedelta(days=2), hour=9))
    brand_coupon(member, state="viewed", valid_until=at_shanghai(D + dt.timedelta(days=20)),
                 viewed_at=at_shanghai(D, hour=8))  # looked only this morning: not 48 hours yet

    run(brand_a)
    with schema_context(brand_a.schema_name):
        BrandCoupon.objects.filter(pk=viewed.pk).update(state="redeemed", redeemed_at=at_shanghai(D, hour=15))
    later = run(brand_a)

    by_kind = {t.trigger_kind: t for t in tasks_of(brand_a, member=member)}
    assert set(by_kind) == {"coupon_expiring", "coupon_viewed_unused"}
    assert (by_kind["coupon_expiring"].period, by_kind["coupon_expiring"].state) == (expiring.code, "open")
    reminder = by_kind["coupon_viewed_unused"]
    assert (reminder.period, reminder.state, reminder.completed_by) == (viewed.code, "done", "auto:coupon_used")
    assert reminder.evidence["coupon"] == viewed.code
    assert later.completed == 1
    with schema_context(brand_a.schema_name):
        assert GuideTask.objects.filter(pk=reminder.pk, reward_credited_at__isnull=False).exists()


def test_dormant_customer_and_100_days_in_a_group(brand_a, make_guide, customer):
    from guides.brand.models import CustomerGroup, CustomerGroupMember

    guide = make_guide(brand_a)
    dormant, _ = customer(brand_a, guide, day0=D - dt.timedelta(days=60))
    active, _ = customer(brand_a, guide, day0=D - dt.timedelta(days=59))
    with schema_context(brand_a.schema_name):
        group = CustomerGroup.objects.create(chat_id="wr-task-100", name="兰蔻会员群", owner=guide)
        CustomerGroupMember.objects.create(group=group, userid="wm-1", type="external", member=active,
                                           join_time=at_shanghai(D - dt.timedelta(days=100)))

    run(brand_a)

    assert [t.member_id for t in tasks_of(brand_a, trigger_kind="dormant")] == [dormant.pk]
    assert [(t.member_id, t.period) for t in tasks_of(brand_a, trigger_kind="group_100_days")] == [
        (active.pk, "wr-task-100")]


def test_a_switched_off_trigger_issues_nothing(brand_a, make_guide, customer):
    from tasks.models import TriggerConfig

    customer(brand_a, make_guide(brand_a), day0=LONG_AGO, birthday=dt.date(1990, 3, 12))
    with schema_context(brand_a.schema_name):
        TriggerConfig.objects.filter(kind="birthday").update(is_enabled=False)

    run(brand_a)

    assert tasks_of(brand_a, trigger_kind="birthday") == []


def test_welcome_sent_completes_the_day_0_task_and_credits_the_reward_once(brand_a, make_guide, customer):
    from incentives.models import GuideBalance, RewardEntry
    from wecom.models import CallbackEvent, WelcomeDelivery

    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=D)
    event = CallbackEvent.objects.create(corp_id="ww", dedup_key="t-welcome-1", event="change_external_contact",
                                         create_time=0, payload={})
    WelcomeDelivery.objects.create(event=event, brand=brand_a, guide=guide, member=member, status="sent",
                                   sent_at=at_shanghai(D, hour=11))

    run(brand_a)
    run(brand_a)

    (d0,) = tasks_of(brand_a, member=member, ref="hq:d0")
    assert (d0.state, d0.completed_by, d0.evidence["welcome_delivery_id"]) == ("done", "auto:welcome", event.welcome.pk)
    assert RewardEntry.objects.filter(guide=guide, source="guide_task").count() == 1
    assert (GuideBalance.objects.get(guide=guide).coins, d0.reward_credited_at is not None) == (10, True)


def test_guide_confirms_with_a_note_rewarded_once_and_only_their_own_task(brand_a, make_guide, customer):
    from incentives.models import RewardEntry
    from scrm.errors import AppError
    from tasks.services import task_complete

    guide, colleague = make_guide(brand_a), make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=D - dt.timedelta(days=7))
    run(brand_a)
    (d7,) = tasks_of(brand_a, member=member, ref="hq:d7")

    with pytest.raises(AppError) as err:
        task_complete(guide=colleague, task_id=d7.pk)
    done = task_complete(guide=guide, task_id=d7.pk, note="已电话沟通，周末到店")
    again = task_complete(guide=guide, task_id=d7.pk, note="重复点击")

    assert err.value.status == 404
    assert (done.state, done.note, done.completed_by) == ("done", "已电话沟通，周末到店", "guide")
    assert again.note == "已电话沟通，周末到店"
    assert list(RewardEntry.objects.filter(guide=guide).values_list("coins", "exp")) == [(10, 10)]


def test_an_expired_task_cannot_be_confirmed(brand_a, make_guide, customer):
    from scrm.errors import AppError
    from tasks.services import task_complete

    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=D - dt.timedelta(days=7))
    run(brand_a)
    run(brand_a, day=D + dt.timedelta(days=5))
    (d7,) = tasks_of(brand_a, member=member, ref="hq:d7")

    with pytest.raises(AppError) as err:
        task_complete(guide=guide, task_id=d7.pk)
    assert (d7.state, err.value.code) == ("expired", "task_closed")


def test_a_same_day_rerun_gives_a_customer_added_since_their_birthday_task(brand_a, make_guide, customer):
    """The 10-minute re-runs look at the adds since the day's run: a new customer's birthday is issued then."""
    guide = make_guide(brand_a)
    run(brand_a)
    member, _ = customer(brand_a, guide, day0=LONG_AGO, birthday=dt.date(1990, 3, 12))  # re-added, old day 0

    rerun = run(brand_a)

    (task,) = tasks_of(brand_a, trigger_kind="birthday")
    assert (rerun.created, task.member_id, task.due_on) == (1, member.pk, dt.date(2026, 3, 11))


def test_a_birthday_recorded_after_the_days_run_is_issued_late_by_the_next_nights_run(brand_a, make_guide, customer):
    """Same-day re-runs do not re-read every birthday; the next night reads the whole window again."""
    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=LONG_AGO)
    run(brand_a)
    member.birthday = dt.date(1990, 3, 12)
    member.save(update_fields=["birthday"])

    same_day = run(brand_a)
    next_night = run(brand_a, day=D + dt.timedelta(days=1))

    (task,) = tasks_of(brand_a, trigger_kind="birthday")
    assert (same_day.created, next_night.created, task.late, task.issued_on) == (0, 1, True, D + dt.timedelta(days=1))
