"""Step 4: the brand dashboard's task page — program (HQ + brand nodes), switch-offs, triggers, completion by
guide and the overdue list; only the brand's own data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

pytestmark = pytest.mark.django_db


def test_the_page_shows_hq_nodes_rates_by_guide_and_overdue_of_this_brand_only(
        brand_a, brand_b, make_guide, customer, manager_client):
    from tasks.engine import generate
    from tasks.services import task_complete

    today = timezone.localdate()
    good, slow = make_guide(brand_a, name="完成王"), make_guide(brand_a, name="拖延李")
    mine, _ = customer(brand_a, good, day0=today - dt.timedelta(days=8))
    late, _ = customer(brand_a, slow, day0=today - dt.timedelta(days=8), name="没人管")
    customer(brand_b, make_guide(brand_b, name="耐克导购"), day0=today - dt.timedelta(days=8))
    generate(brand=brand_a, day=today - dt.timedelta(days=1))
    generate(brand=brand_b, day=today - dt.timedelta(days=1))
    from tasks.models import GuideTask

    with schema_context(brand_a.schema_name):
        task_complete(guide=good, task_id=GuideTask.objects.get(member=mine, ref="hq:d7").pk)
    generate(brand=brand_a, day=today + dt.timedelta(days=2))  # slow's day-7 task expires

    body = manager_client(brand_a).get("/tasks/").content.decode()

    assert "28天忠诚客户习惯" in body and 'data-testid="hq-node-d14"' in body
    rates = body[body.index('data-testid="completion-rates"'):body.index('data-testid="overdue"')]
    assert rates.index("拖延李") < rates.index("完成王")  # lowest completion first
    assert "100%" in rates and "0%" in rates
    overdue = body[body.index('data-testid="overdue"'):]
    assert "没人管" in overdue and "已过期 Expired" in overdue
    assert "耐克导购" not in body


def test_switching_an_optional_hq_node_off_and_adding_a_brand_node(brand_a, manager_client):
    from tasks.models import BrandNode, NodeSwitchOff

    client = manager_client(brand_a)
    off = client.post("/tasks/hq-nodes/d14/switch/", {"off": "1"}, follow=True)
    refused = client.post("/tasks/hq-nodes/d7/switch/", {"off": "1"}, follow=True)
    added = client.post("/tasks/", {"day_offset": 3, "task_type": "care", "title": "3天试用回访",
                                    "script": "{name}您好，试用装用得如何？", "due_window_days": 2,
                                    "reward_coins": 5, "reward_exp": 5}, follow=True)
    bad = client.post("/tasks/", {"day_offset": -1, "task_type": "care", "title": "", "script": "x",
                                  "due_window_days": 0, "reward_coins": 0, "reward_exp": 0})

    with schema_context(brand_a.schema_name):
        assert list(NodeSwitchOff.objects.values_list("node_key", flat=True)) == ["d14"]
        assert list(BrandNode.objects.values_list("day_offset", "title")) == [(3, "3天试用回访")]
    assert "已关闭" in off.content.decode()
    assert "必做" in refused.content.decode() and "不能关闭" in refused.content.decode()
    assert "3天试用回访" in added.content.decode()
    assert bad.status_code == 200 and 'class="errorlist"' in bad.content.decode()


def test_a_trigger_is_switched_off_and_its_n_changed(brand_a, manager_client):
    from tasks.models import TriggerConfig

    manager_client(brand_a).post("/tasks/triggers/birthday/", {"offset": "5", "title": "生日前5天关怀"})

    with schema_context(brand_a.schema_name):
        birthday = TriggerConfig.objects.get(kind="birthday")
    assert (birthday.is_enabled, birthday.offset, birthday.title) == (False, 5, "生日前5天关怀")


def test_a_read_only_analyst_cannot_change_the_program(brand_a, manager_client):
    from tasks.models import NodeSwitchOff

    brand_a.sharing_policy = "full"
    brand_a.save()
    client = manager_client(brand_a, role="mall_analyst")

    page = client.get("/tasks/")
    response = client.post("/tasks/hq-nodes/d14/switch/", {"off": "1"}, follow=True)

    assert page.status_code == 200
    assert "只读账号不能修改" in response.content.decode()
    with schema_context(brand_a.schema_name):
        assert not NodeSwitchOff.objects.exists()
