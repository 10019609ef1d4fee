"""The brand's groups page: per-group activity (joined, left, active members, group tasks), tagging a group with
a store and interest tags, and switching an optional HQ group node off."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.groups_tasks.conftest import run, tasks_of

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def lancome(brand_a, brand_client, make_user):
    return brand_client(brand_a, make_user("gt-manager", "brand_manager", brand=brand_a))


def _cell(body: str, group, name: str) -> str:
    row = re.search(rf'<tr data-testid="group-row-{group.pk}">(.*?)</tr>', body, re.S).group(1)
    return re.search(rf'data-testid="group-{name}">(.*?)</(?:td|span)>', row, re.S).group(1).strip()


def test_the_groups_page_shows_each_groups_activity(brand_a, brand_b, make_guide, make_group, make_node, member_of,
                                                   lancome):
    from guides.brand.models import CustomerGroupMember
    from members.brand.models import BrandCoupon, BrandCouponTemplate
    from members.services import points_earn
    from tasks.community.services import group_task_complete

    today = timezone.localdate()
    guide = make_guide(brand_a)
    joiner, buyer, elsewhere, quiet, leaver, redeemer = (member_of(brand_a, n) for n in (
        "新入群", "本品牌消费", "别的品牌消费", "沉默", "已退群", "核销券"))
    group = make_group(guide, name="兰蔻静安VIP群", created=today - 90 * DAY, members=[
        (joiner, today - 2 * DAY), (buyer, today - 60 * DAY), (elsewhere, today - 60 * DAY),
        (quiet, today - 60 * DAY), (leaver, today - 60 * DAY), (redeemer, today - 60 * DAY)])
    with schema_context(brand_a.schema_name):
        CustomerGroupMember.objects.filter(group=group, member=leaver).update(left_at=timezone.now() - 3 * DAY)
        CustomerGroupMember.objects.create(group=group, userid="staff-1", type="member", name="店长",
                                           join_time=timezone.now() - DAY)  # staff: not a customer
        template = BrandCouponTemplate.objects.create(name="满500减50", kind="cash", value_cents=5000)
        BrandCoupon.objects.create(template=template, member=redeemer, code="GT000001", state="redeemed",
                                   valid_until=timezone.now() + 10 * DAY, redeemed_at=timezone.now() - DAY)
    points_earn(member=buyer, amount=100, idempotency_key="gt-buy-a", brand=brand_a)
    points_earn(member=elsewhere, amount=100, idempotency_key="gt-buy-b", brand=brand_b)
    make_node(title="每日群游戏")
    make_node(title="发布群公告", kind="custom", schedule="after_created", offset_days=90)
    run(brand_a, today)
    group_task_complete(guide=guide, task_id=tasks_of(brand_a, title="发布群公告")[0].pk)

    body = lancome.get("/groups/").content.decode()

    assert [_cell(body, group, name) for name in ("joined", "left", "tasks")] == ["1", "1", "1 / 1"]
    assert _cell(body, group, "active") == "<strong>3</strong>"  # joined, bought here, redeemed a coupon
    assert "活跃 = 仍在群的客户中" in body


def test_a_manager_tags_a_group_with_a_store_and_interest_tags(brand_a, make_guide, make_group, lancome, store):
    from guides.brand.models import CustomerGroup
    from tenants.models import Store

    group = make_group(make_guide(brand_a), name="兰蔻护肤群")
    nowhere = Store.objects.create(code="S09", name="无专柜店", city="上海", address="某路", latitude="31.2",
                                   longitude="121.4")

    refused = lancome.post(f"/groups/{group.pk}/", {"store": str(nowhere.pk), "interest_tags": ["skincare"]})
    saved = lancome.post(f"/groups/{group.pk}/", {"store": str(store.pk), "interest_tags": ["skincare", "makeup"]},
                         follow=True)

    assert refused.status_code == 400  # a store where the brand has no counter is not offered
    assert "已保存群标签" in saved.content.decode()
    with schema_context(brand_a.schema_name):
        assert CustomerGroup.objects.filter(pk=group.pk).values_list("store_id", "interest_tags").get() == (
            store.pk, ["skincare", "makeup"])
    page = lancome.get("/groups/").content.decode()
    assert re.search(r'data-testid="group-tags"><span class="tag">护肤 Skincare</span><span class="tag">彩妆 Makeup', page)


def test_unknown_interest_tags_are_refused_by_the_service(brand_a, make_guide, make_group):
    from scrm.errors import AppError
    from tasks.community.services import group_tags_set

    group = make_group(make_guide(brand_a))

    with pytest.raises(AppError) as refused:
        group_tags_set(brand=brand_a, group_id=group.pk, store_id=None, interest_tags=["skincare", "no-such-tag"])

    assert refused.value.fields == {"interest_tags": ["未知标签 Unknown tags: no-such-tag"]}


def test_a_manager_switches_an_optional_hq_group_node_off_and_on(brand_a, make_node, lancome):
    from tasks.community.brand.models import GroupNodeSwitchOff

    game = make_node(title="每日群游戏 Daily group game")
    mandatory = make_node(title="入群100天祝贺", kind="milestone_100_days", schedule="member_days", offset_days=100,
                          optional=False)

    off = lancome.post(f"/groups/nodes/{game.pk}/switch/", {"off": "1"}, follow=True).content.decode()
    refused = lancome.post(f"/groups/nodes/{mandatory.pk}/switch/", {"off": "1"}, follow=True).content.decode()

    with schema_context(brand_a.schema_name):
        assert list(GroupNodeSwitchOff.objects.values_list("node_id", flat=True)) == [game.pk]
    assert "已关闭群任务" in off and "必做，不能关闭" in refused
    row = re.search(rf'data-testid="group-node-{game.pk}">(.*?)</tr>', off, re.S).group(1)
    assert "已关闭 Off" in row

    lancome.post(f"/groups/nodes/{game.pk}/switch/", {"off": "0"})
    with schema_context(brand_a.schema_name):
        assert not GroupNodeSwitchOff.objects.exists()


def test_a_node_for_another_brand_is_neither_listed_nor_switchable(brand_a, brand_b, make_node, lancome):
    nike_only = make_node(title="耐克跑团打卡", brands=[brand_b])

    page = lancome.get("/groups/").content.decode()
    refused = lancome.post(f"/groups/nodes/{nike_only.pk}/switch/", {"off": "1"}, follow=True).content.decode()

    assert "耐克跑团打卡" not in page
    assert "总部群任务不存在" in refused


def test_the_groups_page_costs_the_same_queries_for_one_group_or_twenty(brand_a, make_guide, make_group, member_of,
                                                                       make_node, lancome):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    guide = make_guide(brand_a)
    today = timezone.localdate()
    make_node()

    def page_queries() -> int:
        run(brand_a, today)
        with CaptureQueriesContext(connection) as queries:
            assert lancome.get("/groups/").status_code == 200
        return len(queries)

    make_group(guide, members=[(member_of(brand_a), today - DAY)])
    one = page_queries()
    for _ in range(19):
        make_group(guide, members=[(member_of(brand_a), today - DAY), (None, today - 40 * DAY)])

    assert page_queries() == one
