"""Group tasks generated set-based: once per (group, node, day), missed days caught up while their window is open,
the groups' tags deciding which HQ nodes apply, switch-offs, the milestone, owners changing, groups dismissed."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from tests.groups_tasks.conftest import D, run, tasks_of

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def test_a_daily_node_issues_one_task_per_group_and_day_whatever_the_number_of_runs(brand_a, make_guide, make_group,
                                                                                    make_node):
    guide = make_guide(brand_a)
    group = make_group(guide, name="兰蔻静安会员群")
    node = make_node()

    first, again = run(brand_a), run(brand_a)

    (task,) = tasks_of(brand_a)
    assert (first.created, again.created) == (1, 0)
    assert (task.group_id, task.node_id, task.period, task.guide_id, task.occurs_on, task.due_on, task.late) == (
        group.pk, node.pk, "2026-03-13", guide.pk, D, D, False)
    assert (task.title, task.kind, task.reward_coins, task.reward_exp) == (node.title, "daily_game", 5, 3)


def test_missed_nights_are_caught_up_while_their_window_is_open(brand_a, make_guide, make_group, make_node):
    make_group(make_guide(brand_a))
    make_node(due_window_days=3, starts_on=D - 4 * DAY)
    run(brand_a, D - 4 * DAY)

    result = run(brand_a, D)  # nobody ran the engine on D-3 .. D-1

    assert result.created == 3  # D-2, D-1 (late) and D; D-3's window closed on D-1
    assert [(t.occurs_on, t.late, t.state) for t in tasks_of(brand_a)] == [
        (D - 4 * DAY, False, "expired"), (D - 2 * DAY, True, "open"), (D - DAY, True, "open"), (D, False, "open")]
    assert run(brand_a, D).created == 0


def test_weekly_and_after_creation_schedules(brand_a, make_guide, make_group, make_node):
    guide = make_guide(brand_a)
    old = make_group(guide, created=D - 100 * DAY)
    new = make_group(guide, created=D - DAY)
    friday = make_node(title="周五群专属券", kind="coupon_drop", schedule="weekly", weekday=5, due_window_days=2)
    sunday = make_node(title="周日抽奖", kind="lottery", schedule="weekly", weekday=7)
    notice = make_node(title="发布群公告", kind="custom", schedule="after_created", offset_days=0, due_window_days=3)

    run(brand_a, D + DAY)  # Saturday: Friday's drop is still due, caught up

    assert [(t.group_id, t.node_id, t.occurs_on, t.late) for t in tasks_of(brand_a)] == [
        (old.pk, friday.pk, D, True), (new.pk, friday.pk, D, True), (new.pk, notice.pk, D - DAY, True)]
    assert tasks_of(brand_a, node=sunday) == []


def test_no_task_for_a_day_before_the_group_existed_or_the_node_started(brand_a, make_guide, make_group, make_node):
    make_group(make_guide(brand_a), created=D)
    make_node(due_window_days=5)
    make_node(title="新节点", due_window_days=5, starts_on=D)

    run(brand_a, D)

    assert [t.occurs_on for t in tasks_of(brand_a)] == [D, D]


def test_the_groups_store_and_interest_tags_decide_which_nodes_apply(brand_a, make_guide, make_group, make_node,
                                                                     store):
    from tenants.models import Store

    other_store = Store.objects.create(code="S02", name="徐汇店 Xuhui", city="上海", address="漕溪北路",
                                       latitude="31.19", longitude="121.43")
    guide = make_guide(brand_a)
    skincare = make_group(guide, interest_tags=["skincare"])
    sports = make_group(guide, interest_tags=["sports", "family"])
    elsewhere = make_group(guide, store=other_store)
    make_node(title="护肤小课堂", interest_tags=["skincare", "makeup"])
    make_node(title="静安店专场", stores=[store])
    make_node(title="全部群", kind="custom")

    run(brand_a)

    titles = {g.pk: sorted(t.title for t in tasks_of(brand_a, group=g)) for g in (skincare, sports, elsewhere)}
    assert titles == {skincare.pk: ["全部群", "护肤小课堂", "静安店专场"], sports.pk: ["全部群", "静安店专场"],
                      elsewhere.pk: ["全部群"]}


def test_a_node_for_other_brands_and_a_switched_off_optional_node_issue_nothing(brand_a, brand_b, make_guide,
                                                                              make_group, make_node):
    from scrm.errors import AppError
    from tasks.community.services import group_node_switch

    make_group(make_guide(brand_a))
    make_node(title="只给耐克", brands=[brand_b])
    game = make_node(title="每日游戏")
    mandatory = make_node(title="必做", kind="custom", optional=False)
    group_node_switch(brand=brand_a, node_id=game.pk, off=True, actor="test")

    run(brand_a)

    assert [t.title for t in tasks_of(brand_a)] == ["必做"]
    with pytest.raises(AppError) as refused:
        group_node_switch(brand=brand_a, node_id=mandatory.pk, off=True)
    assert refused.value.code == "node_mandatory"


def test_the_milestone_names_the_members_who_reach_100_days_one_task_per_group_and_day(brand_a, make_guide,
                                                                                       make_group, make_node,
                                                                                       member_of):
    from guides.brand.models import CustomerGroupMember

    guide = make_guide(brand_a)
    ann, bob = member_of(brand_a, "周可欣"), member_of(brand_a, "林小雨")
    group = make_group(guide, members=[(ann, D - 100 * DAY), (None, D - 100 * DAY), (bob, D - 99 * DAY),
                                       (member_of(brand_a, "已退群"), D - 100 * DAY)])
    with schema_context(brand_a.schema_name):
        CustomerGroupMember.objects.filter(group=group, name="已退群").update(left_at=dt.datetime.now(dt.UTC))
    node = make_node(title="入群100天祝贺", kind="milestone_100_days", schedule="member_days", offset_days=100,
                     due_window_days=3, script="恭喜{names}加入{group}满100天！", optional=False)

    run(brand_a, D)
    rerun = run(brand_a, D)
    run(brand_a, D + DAY)

    today, tomorrow = tasks_of(brand_a, node=node)
    assert rerun.created == 0
    assert (today.occurs_on, today.subjects_count, [s["name"] for s in today.subjects]) == (D, 2, ["周可欣", "群友1"])
    assert today.subjects[0]["member_id"] == ann.pk and today.subjects[1]["member_id"] is None
    assert (tomorrow.occurs_on, tomorrow.subjects_count, tomorrow.subjects[0]["member_id"]) == (D + DAY, 1, bob.pk)


def test_open_tasks_follow_a_new_owner_and_a_dismissed_groups_tasks_are_cancelled(brand_a, make_guide, make_group,
                                                                                  make_node):
    from guides.brand.models import CustomerGroup
    from wecom.groups import group_dismiss

    first, successor = make_guide(brand_a), make_guide(brand_a)
    moved, dismissed = make_group(first), make_group(first)
    make_node(due_window_days=3, starts_on=D - DAY)
    run(brand_a, D - DAY)
    with schema_context(brand_a.schema_name):
        CustomerGroup.objects.filter(pk=moved.pk).update(owner=successor)
    group_dismiss(brand=brand_a, chat_id=dismissed.chat_id, at=dt.datetime.now(dt.UTC))

    result = run(brand_a, D)

    assert result.cancelled == 1
    assert [(t.occurs_on, t.guide_id, t.state) for t in tasks_of(brand_a, group=moved)] == [
        (D - DAY, successor.pk, "open"), (D, successor.pk, "open")]
    assert [(t.occurs_on, t.state) for t in tasks_of(brand_a, group=dismissed)] == [(D - DAY, "cancelled")]


def test_a_group_whose_owner_resigned_gets_no_new_task(brand_a, make_guide, make_group, make_node):
    make_group(make_guide(brand_a, status="resigned"))
    make_node()

    assert run(brand_a).created == 0


def test_the_hourly_dispatch_runs_every_active_brand_in_its_own_schema(brand_a, brand_b, make_guide, make_group,
                                                                       make_node):
    from scrm.schedules import CELERY_BEAT_SCHEDULE
    from tasks.community.tasks import generate_dispatch

    lancome, nike = make_group(make_guide(brand_a)), make_group(make_guide(brand_b))
    make_node()

    assert generate_dispatch(D.isoformat()) >= 2  # eager in tests: each job ran in its brand's schema
    generate_dispatch(D.isoformat())

    assert [t.group_id for t in tasks_of(brand_a)] == [lancome.pk]
    assert [t.group_id for t in tasks_of(brand_b)] == [nike.pk]
    assert CELERY_BEAT_SCHEDULE["group-tasks-generate"]["task"] == "community.generate_dispatch"
