"""Mall ops define HQ group nodes in the admin: kind, script, coupon, schedule, which groups, reward; a schedule that
does not fit the kind is refused in Chinese first; nodes and interest tags are never deleted."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.admin.conftest import admin_url

pytestmark = pytest.mark.django_db


def _form(**overrides) -> dict:
    data = {"title": "周三护肤小课堂", "kind": "custom", "guide_notes": "", "script": "{group}护肤小课堂开课啦",
            "coupon_template": "", "schedule": "weekly", "weekday": "3", "offset_days": "", "due_window_days": "1",
            "starts_on": dt.date(2026, 3, 1).isoformat(), "ends_on": "", "interest_tags": ["skincare"],
            "reward_coins": "10", "reward_exp": "5", "optional": "on", "position": "60", "is_active": "on"}
    data.update(overrides)
    return data


def test_an_operator_adds_a_weekly_node_for_skincare_groups_of_one_brand(brand_a, admin_client_for, staff):
    from tasks.community.models import GroupNode

    client = admin_client_for(staff.operator)

    page = client.get(admin_url("community_groupnode_add")).content.decode()
    response = client.post(admin_url("community_groupnode_add"), _form(brands=[brand_a.pk]))

    assert "护肤 Skincare" in page and "每周某天 Weekly on a weekday" in page
    assert response.status_code == 302
    node = GroupNode.objects.get(title="周三护肤小课堂")
    assert (node.weekday, node.interest_tags, list(node.brands.all())) == (3, ["skincare"], [brand_a])
    assert "周三 Wednesday" in client.get(admin_url("community_groupnode_changelist")).content.decode()


def test_a_schedule_that_does_not_fit_is_refused_chinese_first(admin_client_for, staff):
    client = admin_client_for(staff.operator)

    weekly = client.post(admin_url("community_groupnode_add"), _form(weekday="")).content.decode()
    milestone = client.post(admin_url("community_groupnode_add"), _form(kind="milestone_100_days")).content.decode()

    assert "每周任务须选择星期 A weekly node needs a weekday." in weekly
    assert "入群100天任务须用「成员入群满N天」频率" in milestone


def test_an_analyst_reads_nodes_and_nobody_deletes_them(admin_client_for, staff):
    from tasks.community.models import GroupNode, InterestTag

    node, tag = GroupNode.objects.order_by("position").first(), InterestTag.objects.first()  # seeded

    analyst = admin_client_for(staff.analyst)
    admin = admin_client_for(staff.admin)

    assert analyst.get(admin_url("community_groupnode_changelist")).status_code == 200
    assert analyst.post(admin_url("community_groupnode_add"), _form()).status_code == 403
    assert admin.get(admin_url("community_groupnode_delete", node.pk)).status_code == 403
    assert admin.get(admin_url("community_interesttag_delete", tag.pk)).status_code == 403
