"""Mall ops' HQ program editor in the Django admin: start a draft, edit its nodes inline, preview it across brands
(counts only), publish it without rewriting a task already issued."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

pytestmark = pytest.mark.django_db

FIELDS = ["key", "day_offset", "task_type", "title", "script", "due_window_days", "reward_coins", "reward_exp"]


@pytest.fixture
def ops(make_user):
    def login(role="mall_operator"):
        user = make_user(f"{role}-programs", role)
        user.is_staff = True  # lets the login into the admin; the role decides what it may do there
        user.save(update_fields=["is_staff"])
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        return client

    return login


def formset_data(version, *, change=None, delete=(), add=()) -> dict:
    """The change form's POST for ``version``: its nodes as they are, ``change`` {key: {field: value}} applied,
    the keys in ``delete`` marked for deletion and ``add`` appended."""
    nodes = list(version.nodes.order_by("day_offset", "key"))
    data = {"note": version.note, "nodes-TOTAL_FORMS": len(nodes) + len(add), "nodes-INITIAL_FORMS": len(nodes),
            "nodes-MIN_NUM_FORMS": 0, "nodes-MAX_NUM_FORMS": 1000}
    for i, node in enumerate(nodes):
        values = {name: getattr(node, name) for name in FIELDS} | (change or {}).get(node.key, {})
        data |= {f"nodes-{i}-{name}": value for name, value in values.items()}
        data |= {f"nodes-{i}-id": node.pk, f"nodes-{i}-version": version.pk}
        if node.optional:
            data[f"nodes-{i}-optional"] = "on"
        if node.key in delete:
            data[f"nodes-{i}-DELETE"] = "on"
    for j, values in enumerate(add, start=len(nodes)):
        data |= {f"nodes-{j}-{name}": value for name, value in values.items()} | {f"nodes-{j}-version": version.pk}
    return data


def test_ops_start_a_draft_edit_it_inline_preview_and_publish_it(ops, brand_a, make_guide, customer):
    from tasks.engine import generate
    from tasks.mall.models import Program, ProgramVersion
    from tasks.models import GuideTask

    today = timezone.localdate()
    guide = make_guide(brand_a, name="不可外露的导购")
    member, _ = customer(brand_a, guide, day0=today - dt.timedelta(days=7), name="不可外露的顾客")
    generate(brand=brand_a, day=today)
    client = ops()
    program = Program.objects.get(is_default=True)
    v1 = program.versions.get(status="published")

    started = client.post("/admin/tasks_mall/program/", {"action": "start_draft", "_selected_action": [program.pk]},
                          follow=True)
    draft = program.versions.get(status="draft")
    edit = client.post(f"/admin/tasks_mall/programversion/{draft.pk}/change/", formset_data(
        draft, change={"d7": {"title": "新会员7天权益（新版）"}}, delete={"d21"},
        add=[{"key": "d3", "day_offset": 3, "task_type": "care", "title": "3天关怀", "script": "{name}您好",
              "due_window_days": 2, "reward_coins": 5, "reward_exp": 5}]))
    preview = client.get(f"/admin/tasks_mall/programversion/{draft.pk}/preview/")
    published = client.post(f"/admin/tasks_mall/programversion/{draft.pk}/publish/", follow=True)

    assert f"v{draft.number}" in started.content.decode()
    assert edit.status_code == 302, edit.content.decode()[:3000]
    assert sorted(draft.nodes.values_list("key", flat=True)) == ["d0", "d14", "d28", "d3", "d7"]
    body = preview.content.decode()
    assert preview.status_code == 200 and 'data-testid="mall-preview-brands"' in body and "<svg" in body
    assert brand_a.name in body
    assert "不可外露的导购" not in body and "不可外露的顾客" not in body  # counts only
    assert "已发布" in published.content.decode()
    assert dict(ProgramVersion.objects.filter(program=program).values_list("number", "status")) == {
        v1.number: "retired", draft.number: "published"}
    # the day-7 task issued under v1 keeps its title; the engine does not issue d7 again
    generate(brand=brand_a, day=today + dt.timedelta(days=1))
    with schema_context(brand_a.schema_name):
        assert list(GuideTask.objects.filter(member=member, ref="hq:d7").values_list("title", flat=True)) == [
            "新会员7天权益"]


def test_a_published_version_is_read_only_and_cannot_be_published_again(ops):
    from tasks.mall.models import ProgramVersion

    client = ops()
    v1 = ProgramVersion.objects.get(program__is_default=True, status="published")

    page = client.get(f"/admin/tasks_mall/programversion/{v1.pk}/change/")
    edit = client.post(f"/admin/tasks_mall/programversion/{v1.pk}/change/",
                       formset_data(v1, change={"d7": {"title": "改了"}}))
    again = client.post(f"/admin/tasks_mall/programversion/{v1.pk}/publish/", follow=True)

    assert page.status_code == 200 and 'name="nodes-0-title"' not in page.content.decode()
    assert edit.status_code == 403
    assert v1.nodes.get(key="d7").title == "新会员7天权益"
    assert "只能修改草稿" in again.content.decode()


def test_an_analyst_may_preview_but_not_publish(ops):
    from tasks.mall.programs import program_draft_create

    draft = program_draft_create(actor="test")
    client = ops("mall_analyst")

    assert client.get(f"/admin/tasks_mall/programversion/{draft.pk}/preview/").status_code == 200
    assert client.post(f"/admin/tasks_mall/programversion/{draft.pk}/publish/").status_code == 403
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_brand_manager_has_no_way_into_the_program_editor(make_user, brand_a):
    from tasks.mall.programs import program_draft_create

    draft = program_draft_create(actor="test")
    client = Client(HTTP_HOST="localhost")
    user = make_user("lancome-manager-admin", "brand_manager", brand=brand_a)
    user.is_staff = True
    user.save()
    client.force_login(user)

    assert client.get(f"/admin/tasks_mall/programversion/{draft.pk}/preview/").status_code in (302, 403)
    assert client.post(f"/admin/tasks_mall/programversion/{draft.pk}/publish/").status_code in (302, 403)


def test_discarding_a_draft_removes_it_and_its_nodes(ops):
    from tasks.mall.models import ProgramNode, ProgramVersion
    from tasks.mall.programs import program_draft_create

    draft = program_draft_create(actor="test")
    client = ops()

    response = client.post(f"/admin/tasks_mall/programversion/{draft.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not ProgramVersion.objects.filter(pk=draft.pk).exists()
    assert not ProgramNode.objects.filter(version_id=draft.pk).exists()
