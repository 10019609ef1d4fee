"""Mall ops see group tasks across brands: per brand and kind, counted inside each brand's schema; a brand's single
groups only when it shares its data in full; brand staff never open the report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.admin.conftest import admin_url
from tests.groups_tasks.conftest import at_shanghai, run, tasks_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_brands(brand_a, brand_b, make_guide, make_group, make_node, member_of):
    """Today: Lancôme has two groups (a customer who joined today, one who joined long ago; an empty group), Nike one
    (a customer who joined today); a daily game in every group; one of Lancôme's tasks done."""
    from tasks.community.services import group_task_complete

    today = timezone.localdate()
    make_node(starts_on=today - dt.timedelta(days=30))
    ours, theirs = make_guide(brand_a, name="兰蔻群主"), make_guide(brand_b, name="耐克群主")
    make_group(ours, name="兰蔻护肤群", members=[(member_of(brand_a, "新朋友"), today),
                                             (member_of(brand_a, "老朋友"), today - dt.timedelta(days=200))])
    make_group(ours, name="兰蔻空群")
    make_group(theirs, name="耐克跑团", members=[(member_of(brand_b, "跑友"), today)])
    run(brand_a, day=today)
    run(brand_b, day=today)
    task = tasks_of(brand_a)[0]
    with schema_context(brand_a.schema_name):
        group_task_complete(guide=ours, task_id=task.pk, note="", actor="test")
    return today


def test_each_brand_is_counted_inside_its_own_schema(brand_a, brand_b, two_brands):
    from tasks.community.reports import group_tasks_all_brands

    report = group_tasks_all_brands(today=two_brands)

    rows = {row.brand.slug: row for row in report["brands"]}
    lancome, nike = rows[brand_a.slug], rows[brand_b.slug]
    assert (lancome.live_groups, lancome.customers, lancome.active) == (2, 2, 1)
    assert (lancome.issued, lancome.done, lancome.open, lancome.rate) == (2, 1, 1, 50)
    assert (nike.live_groups, nike.customers, nike.active, nike.issued, nike.done) == (1, 1, 1, 1, 0)
    assert (report["total"].issued, report["total"].done, report["total"].active) == (3, 1, 2)
    assert [(k["kind"], k["issued"], k["done"]) for k in report["kinds"]] == [("daily_game", 3, 1)]
    assert lancome.groups == [] and nike.groups == []  # both share aggregates only (the default)


def test_a_brand_that_shares_in_full_shows_its_groups_and_one_that_does_not_only_its_sums(
        brand_a, brand_b, two_brands, admin_client_for, staff):
    from tenants.models import Brand

    Brand.objects.filter(pk=brand_b.pk).update(sharing_policy="full")
    client = admin_client_for(staff.operator)

    page = client.get(admin_url("community_group_report")).content.decode()
    nike = client.get(admin_url("community_group_report") + f"?brand={brand_b.pk}").content.decode()
    lancome = client.get(admin_url("community_group_report") + f"?brand={brand_a.pk}").content.decode()

    assert 'data-testid="group-report-brands"' in page and "群任务报表" in page
    assert f'data-testid="group-report-open-{brand_b.slug}"' in page
    assert "仅共享汇总 Aggregates only" in page  # Lancôme's row
    assert "耐克跑团" in nike and "耐克群主" in nike and 'data-testid="group-report-groups"' in nike
    for body in (page, nike, lancome):
        assert "兰蔻护肤群" not in body and "兰蔻群主" not in body and "新朋友" not in body
    assert 'data-testid="group-report-groups"' not in lancome


def test_only_mall_staff_open_the_report(two_brands, admin_client_for, staff):
    url = admin_url("community_group_report")

    assert admin_client_for(staff.analyst).get(url).status_code == 200
    assert admin_client_for(staff.brand_manager).get(url).status_code == 403
    assert admin_client_for(staff.guide).get(url).status_code == 403
    assert "群任务报表 Group tasks report" in admin_client_for(staff.operator).get(
        admin_url("community_groupnode_changelist")).content.decode()


def test_a_dismissed_groups_tasks_in_the_period_still_count_but_not_as_a_live_group(
        brand_a, make_guide, make_group, make_node, member_of):
    from guides.brand.models import CustomerGroup
    from tasks.community.reports import group_tasks_all_brands

    today = timezone.localdate()
    make_node(starts_on=today - dt.timedelta(days=30))
    guide = make_guide(brand_a)
    group = make_group(guide, name="将解散的群", members=[(member_of(brand_a), today)])
    run(brand_a, day=today - dt.timedelta(days=1))
    with schema_context(brand_a.schema_name):
        CustomerGroup.objects.filter(pk=group.pk).update(status="dismissed", dismissed_at=at_shanghai(today))

    (row,) = [r for r in group_tasks_all_brands(today=today)["brands"] if r.brand.pk == brand_a.pk]

    assert (row.live_groups, row.customers, row.issued, row.open) == (0, 0, 1, 1)
