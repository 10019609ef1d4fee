"""The what-if preview: for a proposed node set, the tasks the engine would create on each of the next 28 nights for
the customers there are now (lifecycle nodes and event triggers). Proven by letting the engine really run those
nights and counting."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django_tenants.utils import schema_context

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 1)


def ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def engine_nights(brand, preview) -> list[tuple[dt.date, int, int, int, list[int]]]:
    """Run the engine for every night of the preview; per night what it really issued (lifecycle and trigger tasks),
    shaped like the preview: (day, tasks, guides with tasks, most per guide, the busiest guides' counts)."""
    from tasks.engine import generate
    from tasks.models import GuideTask

    nights = []
    for day in (d.day for d in preview.days):
        generate(brand=brand, day=day)
        with schema_context(brand.schema_name):
            per_guide = Counter(GuideTask.objects.filter(issued_on=day).values_list("guide_id", flat=True))
        busiest = sorted(per_guide.items(), key=lambda item: (-item[1], item[0]))[:3]
        nights.append((day, sum(per_guide.values()), len(per_guide), max(per_guide.values(), default=0),
                       [n for _, n in busiest]))
    return nights


def shaped(preview) -> list[tuple[dt.date, int, int, int, list[int]]]:
    return [(d.day, d.total, d.guides, d.max_per_guide, [b["tasks"] for b in d.busiest]) for d in preview.days]


@pytest.fixture
def customers(brand_a, make_guide, customer):
    """Three guides, customers added over the last five weeks (two on the same day), one customer served by two
    guides with different day 0s; the engine ran for today."""
    from guides.services import relationship_record
    from tasks.engine import generate
    from tests.tasks.conftest import at_shanghai

    guides = [make_guide(brand_a, name=name) for name in ("甲", "乙", "丙")]
    for n, days_ago in enumerate((0, 1, 2, 3, 5, 6, 6, 9, 13, 14, 20, 21, 25, 27, 30, 34)):
        customer(brand_a, guides[n % 3], day0=ago(days_ago))
    shared, _ = customer(brand_a, guides[0], day0=ago(4))
    relationship_record(guide=guides[1], member=shared, added_at=at_shanghai(ago(11)))
    generate(brand=brand_a, day=TODAY)
    return guides


def test_a_new_brand_node_preview_matches_what_the_engine_then_creates(brand_a, customers, customer):
    from tasks.selectors import lifecycle_nodes, nodes_with_proposal, program_preview
    from tasks.services import brand_node_create

    late, _ = customer(brand_a, customers[2], day0=TODAY)  # added after tonight's run: tomorrow catches it up
    with schema_context(brand_a.schema_name):
        current = lifecycle_nodes()
        preview = program_preview(nodes=nodes_with_proposal(current, day_offset=3, due_window_days=2),
                                  compare=current, today=TODAY)
        brand_node_create(day_offset=3, title="3天试用回访", script="{name}您好", due_window_days=2)

    assert (preview.first, preview.last, len(preview.days)) == (ago(-1), ago(-28), 28)
    assert preview.days[0].total >= 1  # the late customer's day-0 task, issued late on the first night
    assert preview.total > preview.current_total  # the day-3 node adds work
    assert engine_nights(brand_a, preview) == shaped(preview)


def test_a_changed_brand_node_is_previewed_without_counting_tasks_it_issued_already(brand_a, customers):
    from tasks.engine import generate
    from tasks.models import GuideTask
    from tasks.selectors import lifecycle_nodes, nodes_with_proposal, program_preview
    from tasks.services import brand_node_create

    with schema_context(brand_a.schema_name):
        node = brand_node_create(day_offset=2, title="2天回访", script="{name}您好", due_window_days=1)
    generate(brand=brand_a, day=ago(-1))  # yesterday's customer gets the day-2 task

    with schema_context(brand_a.schema_name):
        issued = GuideTask.objects.filter(ref=f"brand:{node.pk}").count()
        # moved to day 4: yesterday's customer reaches day 4 in three nights, but has had this node already
        preview = program_preview(nodes=nodes_with_proposal(lifecycle_nodes(), day_offset=4, due_window_days=3,
                                                            brand_node_id=node.pk), today=ago(-1))
        type(node).objects.filter(pk=node.pk).update(day_offset=4, due_window_days=3)

    assert issued == 1
    assert engine_nights(brand_a, preview) == shaped(preview)


def test_an_hq_draft_preview_matches_the_engine_after_publishing(brand_a, customers):
    from tasks.mall.programs import draft_nodes_delete, program_draft_create, program_publish
    from tasks.models import NodeSwitchOff
    from tasks.selectors import lifecycle_nodes, program_preview

    draft = program_draft_create(actor="test")
    draft_nodes_delete(version_id=draft.pk, node_ids=list(draft.nodes.filter(key="d21").values_list("pk", flat=True)))
    draft.nodes.filter(key="d14").update(due_window_days=5)
    draft.nodes.create(key="d3", day_offset=3, task_type="care", title="3天关怀", script="{name}", optional=True)
    draft.nodes.create(key="d10", day_offset=10, task_type="care", title="10天关怀", script="{name}", optional=True)
    with schema_context(brand_a.schema_name):
        NodeSwitchOff.objects.create(node_key="d10")  # this brand has it off
        preview = program_preview(nodes=lifecycle_nodes(hq_version_id=draft.pk), compare=lifecycle_nodes(),
                                  today=TODAY)

    program_publish(version_id=draft.pk, actor="test")

    assert engine_nights(brand_a, preview) == shaped(preview)


def test_the_mall_preview_adds_up_every_brand_and_names_no_guide(brand_a, brand_b, make_guide, customer):
    from tasks.engine import generate
    from tasks.mall.programs import program_draft_create, program_preview_all_brands

    for days_ago in (0, 3, 7, 13):
        customer(brand_a, make_guide(brand_a), day0=ago(days_ago))
    customer(brand_b, make_guide(brand_b), day0=ago(6))
    generate(brand=brand_a, day=TODAY)
    generate(brand=brand_b, day=TODAY)
    draft = program_draft_create(actor="test")
    draft.nodes.create(key="d1", day_offset=1, task_type="care", title="次日关怀", script="{name}")

    mall = program_preview_all_brands(version_id=draft.pk, today=TODAY)

    by_brand = {row.brand.slug: row.preview for row in mall.brands}
    assert set(by_brand) >= {"lancome", "nike"}
    assert [d.total for d in mall.days] == [sum(p.days[i].total for p in by_brand.values()) for i in range(28)]
    assert [d.guides for d in mall.days] == [sum(p.days[i].guides for p in by_brand.values()) for i in range(28)]
    assert mall.total == sum(p.total for p in by_brand.values()) > 0
    assert all("name" not in b for p in by_brand.values() for d in p.days for b in d.busiest)
    # the published program issues what it issued before: a draft changes nothing until it is published
    assert mall.current_total < mall.total


@pytest.fixture
def trigger_customers(brand_a, make_guide, customer):
    """Customers whose data already dates a trigger task in the next 28 days: a birthday, points and a coupon
    expiring, a coupon looked at and not used, a customer falling dormant, 100 days in a customer group; and one
    whose birthday is too far off. Their guides' lifecycles are long over. The engine ran for today."""
    from guides.brand.models import CustomerGroup, CustomerGroupMember
    from members.brand.models import BrandCoupon, BrandCouponTemplate
    from members.models import PointsEntry
    from tasks.engine import generate
    from tests.tasks.conftest import at_shanghai

    long_ago = ago(400)
    first, second = make_guide(brand_a, name="甲"), make_guide(brand_a, name="乙")
    customer(brand_a, first, day0=long_ago, birthday=dt.date(1990, 3, 9))  # reminder 03-06
    customer(brand_a, second, day0=long_ago, birthday=dt.date(1992, 3, 20))  # reminder 03-17
    customer(brand_a, second, day0=long_ago, birthday=dt.date(1992, 5, 20))  # after the preview
    points, _ = customer(brand_a, first, day0=long_ago)
    PointsEntry.objects.create(member=points, kind="earn", amount=100, remaining=100,
                               expires_at=at_shanghai(ago(-40)), idempotency_key=f"t-preview-points-{points.pk}")
    coupons, _ = customer(brand_a, second, day0=long_ago)
    grouped, _ = customer(brand_a, first, day0=long_ago)
    customer(brand_a, second, day0=ago(50))  # dormant after 60 days of silence: in ten days
    with schema_context(brand_a.schema_name):
        template = BrandCouponTemplate.objects.create(name="满500减50", kind="cash", value_cents=5000)
        BrandCoupon.objects.create(template=template, member=coupons, state="issued",
                                   valid_until=at_shanghai(ago(-10), 22), code="TPREV001")
        BrandCoupon.objects.create(template=template, member=coupons, state="viewed", viewed_at=at_shanghai(TODAY),
                                   valid_until=at_shanghai(ago(-25), 22), code="TPREV002")
        group = CustomerGroup.objects.create(chat_id="wr-preview-100", name="兰蔻会员群", owner=first)
        CustomerGroupMember.objects.create(group=group, userid="wm-preview-1", type="external", member=grouped,
                                           join_time=at_shanghai(ago(90)))
    generate(brand=brand_a, day=TODAY)
    return first, second


def test_the_preview_counts_the_trigger_tasks_the_engine_then_creates(brand_a, trigger_customers):
    from tasks.models import GuideTask
    from tasks.selectors import lifecycle_nodes, program_preview

    with schema_context(brand_a.schema_name):
        preview = program_preview(nodes=lifecycle_nodes(), compare=lifecycle_nodes(), today=TODAY)

    nights = engine_nights(brand_a, preview)

    with schema_context(brand_a.schema_name):
        issued = Counter(GuideTask.objects.filter(source="trigger", issued_on__gt=TODAY)
                         .values_list("trigger_kind", flat=True))
    counted = {k["kind"]: k["tasks"] for k in preview.trigger_kinds}
    assert nights == shaped(preview)
    # the viewed coupon also expires within the window: reminded twice, as the engine does
    assert counted == {"birthday": 2, "coupon_expiring": 2, "coupon_viewed_unused": 1, "dormant": 1,
                       "group_100_days": 1, "points_expiring": 1}
    assert counted == {kind: issued[kind] for kind in counted}
    assert preview.triggers_total == 8 and preview.lifecycle_total == 0 and preview.change == 0
    assert [label.split(" ")[0] for label in preview.triggers_not_counted] == ["等级提升"]


def test_a_switched_off_trigger_is_not_counted(brand_a, trigger_customers):
    from tasks.models import TriggerConfig
    from tasks.selectors import lifecycle_nodes, program_preview

    with schema_context(brand_a.schema_name):
        TriggerConfig.objects.filter(kind="birthday").update(is_enabled=False)
        preview = program_preview(nodes=lifecycle_nodes(), today=TODAY)

    assert "birthday" not in {k["kind"] for k in preview.trigger_kinds}
    assert preview.triggers_total == 6


def test_another_brand_preview_counts_none_of_this_brands_trigger_tasks(brand_a, brand_b, trigger_customers):
    from tasks.selectors import lifecycle_nodes, program_preview

    with schema_context(brand_b.schema_name):
        theirs = program_preview(nodes=lifecycle_nodes(), today=TODAY)

    assert theirs.total == theirs.triggers_total == 0
    assert all(k["tasks"] == 0 for k in theirs.trigger_kinds)


def test_a_brand_previews_only_its_own_customers(brand_a, brand_b, make_guide, customer):
    from tasks.selectors import lifecycle_nodes, program_preview

    customer(brand_b, make_guide(brand_b), day0=ago(6))
    with schema_context(brand_a.schema_name):
        empty = program_preview(nodes=lifecycle_nodes(), today=TODAY)
    with schema_context(brand_b.schema_name):
        theirs = program_preview(nodes=lifecycle_nodes(), today=TODAY)

    assert (empty.relationships, empty.total) == (0, 0)
    assert theirs.relationships == 1
    assert theirs.total == 4  # day 7, 14, 21 and 28 of brand B's customer


def test_when_tonights_run_has_not_happened_the_preview_starts_after_it(brand_a, make_guide, customer):
    """The engine last ran three days ago: today's run will catch up first; the preview is the nights after."""
    from tasks.engine import generate
    from tasks.selectors import lifecycle_nodes, program_preview

    guide = make_guide(brand_a)
    for days_ago in (0, 2, 5, 8, 12, 26):
        customer(brand_a, guide, day0=ago(days_ago))
    generate(brand=brand_a, day=ago(3))
    customer(brand_a, guide, day0=ago(1))  # added after that run
    with schema_context(brand_a.schema_name):
        preview = program_preview(nodes=lifecycle_nodes(), today=TODAY)

    generate(brand=brand_a, day=TODAY)

    assert preview.first == ago(-1)
    assert engine_nights(brand_a, preview) == shaped(preview)


# --------------------------------------------------------------------------- the brand dashboard's preview page

NODE = {"day_offset": 3, "task_type": "care", "title": "3天试用回访", "script": "{name}您好，试用装用得如何？",
        "due_window_days": 2, "reward_coins": 5, "reward_exp": 5}


def test_a_manager_previews_a_new_node_and_nothing_is_saved_until_confirmed(
        brand_a, brand_b, make_guide, customer, manager_client):
    from django.utils import timezone

    from tasks.models import BrandNode

    today = timezone.localdate()
    ours = make_guide(brand_a, name="预览导购")
    for days_ago in (0, 1, 2):
        customer(brand_a, ours, day0=today - dt.timedelta(days=days_ago))
    customer(brand_b, make_guide(brand_b, name="耐克导购"), day0=today)
    client = manager_client(brand_a)

    page = client.post("/tasks/preview/", NODE)

    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="preview-chart"' in body and "<svg" in body and 'class="tp-bar"' in body
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    row = body[body.index(f'data-testid="preview-day-{tomorrow}"'):]
    assert "预览导购" in row[:row.index("</tr>")]  # day 3 of the customer added two days ago
    assert "耐克导购" not in body
    assert 'value="3天试用回访"' in body  # the form comes back filled in, to confirm or change
    with schema_context(brand_a.schema_name):
        assert not BrandNode.objects.exists()

    client.post("/tasks/", NODE)

    with schema_context(brand_a.schema_name):
        assert list(BrandNode.objects.values_list("day_offset", "title")) == [(3, "3天试用回访")]


def test_an_invalid_node_is_not_previewed_and_shows_its_errors(brand_a, manager_client):
    page = manager_client(brand_a).post("/tasks/preview/", {**NODE, "due_window_days": 0, "title": ""})

    body = page.content.decode()
    assert page.status_code == 200 and 'class="errorlist"' in body and 'data-testid="preview-chart"' not in body


def test_another_brands_manager_cannot_preview_this_brand(brand_a, brand_b, make_user):
    from django.test import Client

    client = Client(HTTP_HOST=f"{brand_a.slug}.localhost")
    client.force_login(make_user("nike-manager-preview", "brand_manager", brand=brand_b))

    assert client.post("/tasks/preview/", NODE).status_code == 403


# --------------------------------------------------------------------------- changing an existing brand node

def _node(brand, **changes):
    from tasks.services import brand_node_create

    with schema_context(brand.schema_name):
        return brand_node_create(**{**NODE, **changes})


def test_a_manager_previews_a_change_to_an_existing_node_before_saving_it(brand_a, make_guide, customer,
                                                                          manager_client):
    from django.utils import timezone

    from tasks.models import BrandNode

    today = timezone.localdate()
    guide = make_guide(brand_a, name="改节点导购")
    for days_ago in (0, 1, 2, 3):
        customer(brand_a, guide, day0=today - dt.timedelta(days=days_ago))
    node = _node(brand_a, day_offset=1, due_window_days=1)  # day 1: every customer but today's has passed it
    client = manager_client(brand_a)

    page = client.get(f"/tasks/brand-nodes/{node.pk}/edit/")
    as_is = page.content.decode()
    moved = client.post(f"/tasks/brand-nodes/{node.pk}/preview/", {**NODE, "day_offset": 5, "due_window_days": 1})
    body = moved.content.decode()

    assert page.status_code == 200 and 'value="1"' in as_is
    assert 'data-testid="preview-change">0<' in as_is  # the node as it is: nothing changes
    assert moved.status_code == 200 and 'data-testid="preview-chart"' in body
    assert 'data-testid="preview-change">+3<' in body  # day 5 for the three customers who are past day 1
    assert f'action="/tasks/brand-nodes/{node.pk}/edit/"' in body  # "confirm" saves this node, adds none
    with schema_context(brand_a.schema_name):
        assert BrandNode.objects.get(pk=node.pk).day_offset == 1

    saved = client.post(f"/tasks/brand-nodes/{node.pk}/edit/", {**NODE, "day_offset": 5, "due_window_days": 1,
                                                                "title": "5天回访"})

    assert saved.status_code == 302
    with schema_context(brand_a.schema_name):
        assert list(BrandNode.objects.values_list("pk", "day_offset", "title")) == [(node.pk, 5, "5天回访")]


def test_a_read_only_account_previews_a_change_but_cannot_save_it(brand_a, manager_client):
    from tasks.models import BrandNode
    from tenants.models import Brand

    node = _node(brand_a)
    Brand.objects.filter(pk=brand_a.pk).update(sharing_policy="full")  # mall staff see a brand that shares it all
    client = manager_client(brand_a, role="mall_analyst")

    preview = client.post(f"/tasks/brand-nodes/{node.pk}/preview/", {**NODE, "day_offset": 9})
    client.post(f"/tasks/brand-nodes/{node.pk}/edit/", {**NODE, "day_offset": 9})

    assert preview.status_code == 200 and 'data-testid="preview-confirm"' not in preview.content.decode()
    with schema_context(brand_a.schema_name):
        assert BrandNode.objects.get(pk=node.pk).day_offset == 3


def test_an_invalid_change_is_shown_with_its_errors_and_not_saved(brand_a, manager_client):
    from tasks.models import BrandNode

    node = _node(brand_a)

    page = manager_client(brand_a).post(f"/tasks/brand-nodes/{node.pk}/edit/", {**NODE, "day_offset": 400})

    assert page.status_code == 200 and 'class="errorlist"' in page.content.decode()
    with schema_context(brand_a.schema_name):
        assert BrandNode.objects.get(pk=node.pk).day_offset == 3


def test_another_brands_manager_cannot_see_or_change_this_brands_node(brand_a, brand_b, make_user, manager_client):
    from django.test import Client

    from tasks.models import BrandNode

    node = _node(brand_a)
    intruder = Client(HTTP_HOST=f"{brand_a.slug}.localhost")
    intruder.force_login(make_user("nike-manager-edit", "brand_manager", brand=brand_b))
    own_host = manager_client(brand_b)  # on its own dashboard the id names no node of Nike's

    assert intruder.get(f"/tasks/brand-nodes/{node.pk}/edit/").status_code == 403
    assert intruder.post(f"/tasks/brand-nodes/{node.pk}/edit/", {**NODE, "day_offset": 9}).status_code == 403
    assert own_host.get(f"/tasks/brand-nodes/{node.pk}/edit/").status_code == 404
    assert own_host.post(f"/tasks/brand-nodes/{node.pk}/preview/", NODE).status_code == 404
    with schema_context(brand_a.schema_name):
        assert BrandNode.objects.get(pk=node.pk).day_offset == 3


def test_a_switched_off_node_cannot_be_changed(brand_a, manager_client):
    from tasks.services import brand_node_deactivate

    node = _node(brand_a)
    with schema_context(brand_a.schema_name):
        brand_node_deactivate(pk=node.pk)

    assert manager_client(brand_a).get(f"/tasks/brand-nodes/{node.pk}/edit/").status_code == 404
