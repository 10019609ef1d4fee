"""Group task fixtures: customer groups of a brand's guides, HQ group nodes, and a generation run on a fixed day.

The HQ nodes the migration seeds are switched off for each test (inside its transaction), so a test sees only
the nodes it makes."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django_tenants.utils import schema_context

from tests.admin.conftest import admin_client_for, staff  # noqa: F401 (fixtures)
from tests.dashboard.conftest import brand_client  # noqa: F401 (fixture)
from tests.sidebar.conftest import mall_client, sidebar_as  # noqa: F401 (fixtures)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
D = dt.date(2026, 3, 13)  # a Friday
_seq = itertools.count(1)


def at_shanghai(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _only_test_nodes(request):
    """Database tests see only the nodes they make (the browser test commits its data and keeps the seeded ones)."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db")
    from tasks.community.models import GroupNode

    GroupNode.objects.update(is_active=False)


@pytest.fixture
def make_node():
    """make_node(**fields) -> GroupNode (a daily game by default, open to every group since D - 30)."""
    from tasks.community.models import GroupNode

    def make(*, brands=(), stores=(), **fields):
        values = dict(title="每日群游戏 Daily group game", kind="daily_game", schedule="daily", due_window_days=1,
                      script="{group}今日小游戏：猜价格！", starts_on=D - dt.timedelta(days=30), reward_coins=5,
                      reward_exp=3, optional=True)
        values.update(fields)
        node = GroupNode(**values)
        node.full_clean(exclude=["brands", "stores"])
        node.save()
        node.brands.set(brands)
        node.stores.set(stores)
        return node

    return make


@pytest.fixture
def make_group():
    """make_group(guide, name=..., created=date, members=[(member or None, join date), ...]) -> CustomerGroup
    in the guide's brand schema, owned by the guide, at the guide's store."""
    from guides.brand.models import CustomerGroup, CustomerGroupMember

    def make(guide, *, name=None, created=D - dt.timedelta(days=200), members=(), interest_tags=(), store=None,
             status="normal"):
        n = next(_seq)
        with schema_context(guide.brand.schema_name):
            group = CustomerGroup.objects.create(
                chat_id=f"wr-gt-{guide.brand.slug}-{n}", name=name or f"群{n}", owner=guide,
                owner_userid=guide.wecom_userid, created_at=at_shanghai(created), status=status,
                store=store or (guide.counter.store if guide.counter_id else None), interest_tags=list(interest_tags),
                customer_count=len(members), member_count=len(members) + 1)
            for i, (member, joined) in enumerate(members):
                CustomerGroupMember.objects.create(
                    group=group, userid=f"wm-gt-{n}-{i}", type="external", member=member,
                    name=(member.name if member else f"群友{i}"), join_time=at_shanghai(joined))
        return group

    return make


@pytest.fixture
def member_of(enroll):
    """member_of(brand, name) -> a mall member enrolled at the brand."""

    def make(brand, name="顾客"):
        from members.services import Profile

        return enroll(brand, unionid=f"u-gt-{brand.slug}-{next(_seq)}", profile=Profile(name=name)).member

    return make


def run(brand, day=D):
    from tasks.community.services import group_tasks_generate

    return group_tasks_generate(brand=brand, day=day)


def tasks_of(brand, **filters) -> list:
    from tasks.community.brand.models import GroupTask

    with schema_context(brand.schema_name):
        return list(GroupTask.objects.filter(**filters).order_by("group_id", "node_id", "occurs_on", "id"))


def ledger_of(guide) -> list[tuple[str, int, int]]:
    from incentives.models import RewardEntry

    return sorted(RewardEntry.objects.filter(guide=guide, source="group_task").values_list("source_id", "coins", "exp"))
