"""Who sees which group tasks: a guide only the tasks of the groups they own; a brand never another brand's groups
or tasks, through the sidebar, the dashboard or the generation."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.groups_tasks.conftest import run, tasks_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_brands(brand_a, brand_b, make_guide, make_group, make_node):
    """Two Lancôme guides and a Nike guide, each owning one group; one daily node for every brand."""
    ana, amy, nick = make_guide(brand_a, name="陈小美"), make_guide(brand_a, name="李安妮"), make_guide(brand_b, name="王尼克")
    groups = {"ana": make_group(ana, name="兰蔻静安VIP群"), "amy": make_group(amy, name="兰蔻徐汇护肤群"),
              "nick": make_group(nick, name="耐克跑团群")}
    make_node(title="每日群游戏 Daily group game")
    today = timezone.localdate()
    run(brand_a, today)
    run(brand_b, today)
    return ana, amy, nick, groups


def test_each_brand_generates_for_its_own_groups_only(brand_a, brand_b, two_brands):
    ana, amy, nick, groups = two_brands

    assert {t.group_id: t.guide_id for t in tasks_of(brand_a)} == {groups["ana"].pk: ana.pk,
                                                                   groups["amy"].pk: amy.pk}
    assert {t.group_id: t.guide_id for t in tasks_of(brand_b)} == {groups["nick"].pk: nick.pk}


def test_a_guide_sees_only_the_tasks_of_the_groups_they_own(two_brands, sidebar_as):
    ana, amy, nick, groups = two_brands

    body = sidebar_as(ana).get("/sidebar/today/").content.decode()

    assert body.count('data-testid="group-task"') == 1
    assert "兰蔻静安VIP群" in body and "兰蔻徐汇护肤群" not in body and "耐克跑团群" not in body
    assert body.index("群任务") < body.index("Group tasks")
    assert "#}" not in body  # no template comment leaks onto the page


def test_a_guide_cannot_complete_a_colleagues_group_task(brand_a, two_brands, sidebar_as):
    from scrm.errors import NotFound
    from tasks.community.services import group_task_complete

    ana, amy, nick, groups = two_brands
    (amys,) = tasks_of(brand_a, group=groups["amy"])

    response = sidebar_as(ana).post(f"/sidebar/group-tasks/{amys.pk}/done/", {"next": "/sidebar/today/"},
                                    follow=True)
    with pytest.raises(NotFound):
        group_task_complete(guide=nick, task_id=amys.pk)  # Nike's guide, whatever id he tries

    assert "群任务不存在" in response.content.decode()
    assert [t.state for t in tasks_of(brand_a, group=groups["amy"])] == ["open"]


def test_a_former_owner_no_longer_sees_or_completes_a_group_handed_over(brand_a, two_brands, sidebar_as):
    from django_tenants.utils import schema_context

    from guides.brand.models import CustomerGroup

    ana, amy, nick, groups = two_brands
    with schema_context(brand_a.schema_name):
        CustomerGroup.objects.filter(pk=groups["ana"].pk).update(owner=amy)
    (task,) = tasks_of(brand_a, group=groups["ana"])

    body = sidebar_as(ana).get("/sidebar/today/").content.decode()
    refused = sidebar_as(ana).post(f"/sidebar/group-tasks/{task.pk}/done/", follow=True).content.decode()

    assert "兰蔻静安VIP群" not in body and 'data-testid="group-task"' not in body
    assert "群任务不存在" in refused


def test_a_guide_without_groups_sees_no_group_section(brand_a, make_guide, two_brands, sidebar_as):
    body = sidebar_as(make_guide(brand_a, name="新人")).get("/sidebar/today/").content.decode()

    assert 'data-testid="group-tasks"' not in body


def test_brand_b_never_sees_brand_as_groups_on_its_dashboard(brand_a, brand_b, two_brands, brand_client, make_user):
    ana, amy, nick, groups = two_brands
    nike = brand_client(brand_b, make_user("nike-manager", "brand_manager", brand=brand_b))
    lancome = brand_client(brand_a, make_user("lancome-manager", "brand_manager", brand=brand_a))

    nike_page = nike.get("/groups/").content.decode()
    lancome_page = lancome.get("/groups/").content.decode()
    foreign = nike.get(f"/groups/{groups['ana'].pk}/")
    cross_host = brand_client(brand_a, make_user("nike-2", "brand_manager", brand=brand_b)).get("/groups/")

    assert "耐克跑团群" in nike_page and "兰蔻静安VIP群" not in nike_page and "兰蔻徐汇护肤群" not in nike_page
    assert "兰蔻静安VIP群" in lancome_page and "耐克跑团群" not in lancome_page
    assert "兰蔻静安VIP群" not in foreign.content.decode()  # 404, or Nike's own group that has the same id
    assert cross_host.status_code == 403
