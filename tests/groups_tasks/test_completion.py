"""Completing group tasks: the owner's one tap with a note, evidence the platform sees (a coupon of the drop issued
to group members, a milestone acknowledged one to one), rewards credited exactly once, overdue tasks expired."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.groups_tasks.conftest import D, at_shanghai, ledger_of, run, tasks_of

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def test_the_owner_confirms_with_a_note_and_the_reward_is_credited_once(brand_a, make_guide, make_group, make_node):
    from incentives.models import GuideBalance
    from tasks.community.services import group_task_complete

    guide = make_guide(brand_a)
    make_group(guide)
    make_node(reward_coins=8, reward_exp=4)
    run(brand_a)
    (task,) = tasks_of(brand_a)

    done = group_task_complete(guide=guide, task_id=task.pk, note="  猜价格，12人参与 ")
    again = group_task_complete(guide=guide, task_id=task.pk, note="again")
    rerun = run(brand_a)

    assert (done.state, done.completed_by, done.note, again.note) == ("done", "guide", "猜价格，12人参与", "猜价格，12人参与")
    assert done.reward_credited_at is not None and rerun.credited == 0
    assert ledger_of(guide) == [(f"{brand_a.schema_name}:{task.pk}", 8, 4)]
    assert GuideBalance.objects.get(guide=guide).coins == 8


def test_an_expired_task_can_no_longer_be_confirmed(brand_a, make_guide, make_group, make_node):
    from scrm.errors import Conflict
    from tasks.community.services import group_task_complete

    guide = make_guide(brand_a)
    make_group(guide)
    make_node()
    run(brand_a, D - DAY)
    expired = run(brand_a, D)
    (yesterday, _today) = tasks_of(brand_a)

    with pytest.raises(Conflict):
        group_task_complete(guide=guide, task_id=yesterday.pk)
    assert expired.expired == 1 and ledger_of(guide) == []


def test_a_coupon_of_the_drop_issued_by_the_owner_to_a_group_member_completes_it(brand_a, make_guide, make_group,
                                                                                make_node, member_of):
    from members.models import CouponTemplate
    from members.services import coupon_issue

    today = timezone.localdate()  # coupons are issued now
    owner, colleague = make_guide(brand_a), make_guide(brand_a)
    ann, stranger = member_of(brand_a, "周可欣"), member_of(brand_a, "不在群")
    group = make_group(owner, created=today - 90 * DAY, members=[(ann, today - 30 * DAY)])
    other_group = make_group(owner, created=today - 90 * DAY, members=[(member_of(brand_a), today - 30 * DAY)])
    template = CouponTemplate.objects.create(name="群专属满300减30", kind="cash", value_cents=3000, valid_days=7)
    make_node(title="群专属券", kind="coupon_drop", schedule="weekly", weekday=today.isoweekday(), due_window_days=2,
              coupon_template=template, reward_coins=20, reward_exp=20, starts_on=today - 7 * DAY)
    run(brand_a, today)
    coupon_issue(template=template, member=stranger, guide=owner)  # not in the group
    coupon_issue(template=template, member=ann, guide=colleague)  # not by the owner
    assert run(brand_a, today).completed == 0

    coupon = coupon_issue(template=template, member=ann, guide=owner)
    result = run(brand_a, today)

    (task,) = tasks_of(brand_a, group=group)
    assert result.completed == 1 and result.credited == 1
    assert (task.state, task.completed_by, task.evidence["coupons"], task.evidence["first_coupon"]) == (
        "done", "auto:coupon_issued", 1, coupon.code)
    assert [t.state for t in tasks_of(brand_a, group=other_group)] == ["open"]
    assert ledger_of(owner) == [(f"{brand_a.schema_name}:{task.pk}", 20, 20)]


def test_the_milestone_completes_when_its_members_100_days_tasks_are_done(brand_a, make_guide, make_group, make_node,
                                                                         member_of):
    from guides.services import relationship_record
    from tasks.models import GuideTask

    guide = make_guide(brand_a)
    ann, bob = member_of(brand_a, "周可欣"), member_of(brand_a, "林小雨")
    group = make_group(guide, members=[(ann, D - 100 * DAY), (bob, D - 100 * DAY), (None, D - 100 * DAY)])
    make_node(title="入群100天祝贺", kind="milestone_100_days", schedule="member_days", offset_days=100,
              due_window_days=3, optional=False)
    run(brand_a)

    def one_to_one(member, state):
        relationship, _ = relationship_record(guide=guide, member=member, channel="poster", added_at=at_shanghai(D))
        with schema_context(brand_a.schema_name):
            return GuideTask.objects.create(
                source="trigger", ref="trigger:group_100_days", period=group.chat_id, guide=guide, member=member,
                relationship=relationship, trigger_kind="group_100_days", task_type="group_anniversary",
                title="入群100天", issued_on=D, due_on=D + 2 * DAY, state=state,
                completed_at=at_shanghai(D, 12) if state == "done" else None)

    one_to_one(ann, "done")
    pending = one_to_one(bob, "open")
    assert run(brand_a).completed == 0  # Bob's is not done yet; the third member is unknown to the mall
    with schema_context(brand_a.schema_name):
        GuideTask.objects.filter(pk=pending.pk).update(state="done", completed_at=at_shanghai(D, 15))

    assert run(brand_a).completed == 1
    (task,) = tasks_of(brand_a)
    assert task.completed_by == "auto:milestone_acknowledged" and len(task.evidence["guide_task_ids"]) == 2


def test_the_sidebar_done_button_completes_my_groups_task_with_a_note(brand_a, make_guide, make_group, make_node,
                                                                     sidebar_as):
    guide = make_guide(brand_a)
    make_group(guide, name="兰蔻静安会员群")
    make_node(reward_coins=5, reward_exp=3)
    run(brand_a, timezone.localdate())
    (task,) = tasks_of(brand_a)

    response = sidebar_as(guide).post(f"/sidebar/group-tasks/{task.pk}/done/",
                                      {"note": "今天玩了猜价格", "next": "/sidebar/today/"}, follow=True)

    (task,) = tasks_of(brand_a)
    assert "群任务已完成" in response.content.decode()
    assert (task.state, task.note, task.completed_by) == ("done", "今天玩了猜价格", "guide")
    assert len(ledger_of(guide)) == 1
