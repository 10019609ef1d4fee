"""Step 2: the nightly lifecycle engine — idempotent, catching up missed days, following the relationship."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

pytestmark = pytest.mark.django_db

D0 = dt.date(2026, 3, 1)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def tasks_of(brand, **filters):
    from tasks.models import GuideTask

    with schema_context(brand.schema_name):
        return list(GuideTask.objects.filter(**filters).order_by("lifecycle_day", "id"))


def test_day_0_and_day_7_tasks_are_issued_once(brand_a, make_guide, customer):
    from tasks.engine import generate

    guide = make_guide(brand_a)
    member, relationship = customer(brand_a, guide, day0=D0, name="王芳")

    first = generate(brand=brand_a, day=day(0))
    rerun = generate(brand=brand_a, day=day(0))
    week = generate(brand=brand_a, day=day(7))
    week_rerun = generate(brand=brand_a, day=day(7))

    assert (first.created, rerun.created, week.created, week_rerun.created) == (1, 0, 1, 0)
    d0, d7 = tasks_of(brand_a, member=member)
    assert (d0.ref, d0.lifecycle_day, d0.issued_on, d0.due_on, d0.late, d0.guide_id) == (
        "hq:d0", 0, day(0), day(1), False, guide.pk)
    assert (d7.ref, d7.title, d7.due_on, d7.late, d7.relationship_id) == (
        "hq:d7", "新会员7天权益", day(9), False, relationship.pk)
    assert d7.reward_coins == 10 and "{name}" in d7.script
    assert d0.state == "expired"  # its window (day 0-1) closed before day 7


def test_missed_days_are_caught_up_late_while_the_window_is_open(brand_a, make_guide, customer):
    from tasks.engine import generate

    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=D0)
    generate(brand=brand_a, day=day(6))  # the engine then stops for days 7 and 8

    caught_up = generate(brand=brand_a, day=day(9))

    assert caught_up.created == 1
    (d7,) = tasks_of(brand_a, member=member, ref="hq:d7")
    assert (d7.late, d7.issued_on, d7.due_on, d7.state) == (True, day(9), day(9), "open")


def test_a_node_whose_window_closed_while_the_engine_was_down_is_not_issued(brand_a, make_guide, customer):
    from tasks.engine import generate

    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=D0)
    generate(brand=brand_a, day=day(6))

    generate(brand=brand_a, day=day(12))

    assert tasks_of(brand_a, member=member, ref="hq:d7") == []


def test_a_customer_added_after_the_nights_run_gets_the_day_0_task_on_the_next_run(brand_a, make_guide, customer):
    from tasks.engine import generate

    guide = make_guide(brand_a)
    generate(brand=brand_a, day=day(0))
    member, _ = customer(brand_a, guide, day0=D0)

    again = generate(brand=brand_a, day=day(0))

    assert again.created == 1
    assert [t.ref for t in tasks_of(brand_a, member=member)] == ["hq:d0"]


def test_ending_the_relationship_cancels_open_tasks(brand_a, make_guide, customer):
    from guides.services import relationship_end
    from tasks.engine import generate

    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=D0)
    generate(brand=brand_a, day=day(7))
    relationship_end(guide=guide, member_id=member.pk, reason="deleted_by_customer")

    result = generate(brand=brand_a, day=day(8))

    assert result.cancelled == 1
    assert [(t.ref, t.state) for t in tasks_of(brand_a, member=member)] == [("hq:d7", "cancelled")]


def test_tasks_go_to_the_guide_currently_serving_the_customer(brand_a, make_guide, customer):
    """After a handover the successor holds the relationship with the original day 0."""
    from guides.services import relationship_end, relationship_record
    from tasks.engine import generate
    from tests.tasks.conftest import at_shanghai

    departed, successor = make_guide(brand_a, name="离职"), make_guide(brand_a, name="接替")
    member, _ = customer(brand_a, departed, day0=D0)
    generate(brand=brand_a, day=day(0))
    relationship_end(guide=departed, member_id=member.pk, reason="transferred")
    relationship_record(guide=successor, member=member, added_at=at_shanghai(D0))

    generate(brand=brand_a, day=day(7))

    assert [(t.ref, t.guide_id) for t in tasks_of(brand_a, member=member, state="open")] == [("hq:d7", successor.pk)]


def test_switched_off_optional_node_is_skipped_and_brand_nodes_are_issued(brand_a, make_guide, customer):
    from tasks.engine import generate
    from tasks.models import BrandNode, NodeSwitchOff

    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=D0)
    with schema_context(brand_a.schema_name):
        NodeSwitchOff.objects.create(node_key="d14")
        NodeSwitchOff.objects.create(node_key="d7")  # not optional: HQ keeps it on
        node = BrandNode.objects.create(day_offset=14, title="品牌护肤课邀约", script="{name}您好", due_window_days=2)

    generate(brand=brand_a, day=day(7))
    generate(brand=brand_a, day=day(14))

    assert [t.ref for t in tasks_of(brand_a, member=member)] == ["hq:d7", f"brand:{node.pk}"]


def test_a_brand_run_touches_only_that_brands_schema(brand_a, brand_b, make_guide, customer):
    from tasks.engine import generate

    member_a, _ = customer(brand_a, make_guide(brand_a), day0=D0)
    member_b, _ = customer(brand_b, make_guide(brand_b), day0=D0)

    generate(brand=brand_a, day=day(0))

    assert len(tasks_of(brand_a, member=member_a)) == 1
    assert tasks_of(brand_b) == []
    assert tasks_of(brand_a, member=member_b) == []


def test_a_republished_program_version_never_issues_a_node_twice_nor_rewrites_issued_tasks(
        brand_a, make_guide, customer):
    from tasks.engine import generate
    from tasks.mall.models import ProgramVersion

    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=D0)
    generate(brand=brand_a, day=day(7))
    v1 = ProgramVersion.objects.get(program__is_default=True, status="published")
    v1.status = "retired"
    v1.save()
    v2 = ProgramVersion.objects.create(program=v1.program, number=v1.number + 1, status="published")
    for node in v1.nodes.all():
        node.pk, node.version = None, v2
        node.title = node.title + "（新版）"
        node.save()

    rerun = generate(brand=brand_a, day=day(8))

    (d7,) = tasks_of(brand_a, member=member, ref="hq:d7")
    assert rerun.created == 0
    assert d7.title == "新会员7天权益"


def test_the_command_runs_one_brand_for_a_day_and_names_a_bad_argument(brand_a, make_guide, customer, capsys):
    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=D0)

    call_command("tasks_generate", "--brand", "lancome", "--day", "2026-03-08")

    assert "lancome 2026-03-08: created 1" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--day"):
        call_command("tasks_generate", "--day", "2026-02-30")
    with pytest.raises(CommandError, match="--brand"):
        call_command("tasks_generate", "--brand", "nosuchbrand")


def test_the_dispatcher_fans_out_one_job_per_active_brand(brand_a, brand_b, make_guide, customer):
    from tasks.tasks import generate_dispatch

    member_a, _ = customer(brand_a, make_guide(brand_a), day0=D0)
    member_b, _ = customer(brand_b, make_guide(brand_b), day0=D0)

    assert generate_dispatch(day="2026-03-01") == 2  # eager in tests: each job ran in its brand's schema

    assert [t.ref for t in tasks_of(brand_a, member=member_a)] == ["hq:d0"]
    assert [t.ref for t in tasks_of(brand_b, member=member_b)] == ["hq:d0"]


def test_a_run_logs_its_counts_at_info_level(brand_a, caplog):
    """The launcher's demo seed logs at INFO: the record must be makeable (no clash with LogRecord fields)."""
    import logging

    from tasks.engine import generate

    with caplog.at_level(logging.INFO, logger="tasks.engine"):
        generate(brand=brand_a, day=day(0))

    (record,) = [r for r in caplog.records if r.msg == "tasks.generated"]
    assert (record.tenant, record.tasks_created) == (brand_a.schema_name, 0)


def test_a_same_day_rerun_cancels_the_tasks_of_a_relationship_ended_since(brand_a, make_guide, customer):
    """The 10-minute re-runs look at the relationships ended since the last run."""
    from guides.services import relationship_end
    from tasks.engine import generate

    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=D0)
    kept, _ = customer(brand_a, guide, day0=D0)
    generate(brand=brand_a, day=day(7))
    relationship_end(guide=guide, member_id=member.pk, reason="deleted_by_customer")

    rerun = generate(brand=brand_a, day=day(7))

    assert rerun.cancelled == 1
    assert [(t.member_id, t.state) for t in tasks_of(brand_a, ref="hq:d7")] == [(member.pk, "cancelled"),
                                                                               (kept.pk, "open")]
