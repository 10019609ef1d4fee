"""Step 1: the seeded HQ program, the task uniqueness key, and moving open tasks to a successor."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

pytestmark = pytest.mark.django_db


def test_the_default_hq_program_is_seeded_with_five_nodes():
    from tasks.mall.models import Program

    program = Program.objects.get(is_default=True)
    version = program.versions.get(status="published")
    nodes = list(version.nodes.values_list("key", "day_offset"))
    assert program.name.startswith("28天忠诚客户习惯")
    assert nodes == [("d0", 0), ("d7", 7), ("d14", 14), ("d21", 21), ("d28", 28)]


def test_every_brand_schema_gets_the_seven_triggers(brand_a, brand_b):
    from tasks.models import TriggerConfig

    for brand in (brand_a, brand_b):
        with schema_context(brand.schema_name):
            assert TriggerConfig.objects.count() == 7


def test_a_task_is_issued_once_per_source_member_ref_and_period(brand_a, make_guide, customer, open_task):
    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=dt.date(2026, 3, 1))
    open_task(brand_a, guide, member)
    with pytest.raises(IntegrityError), transaction.atomic():
        open_task(brand_a, guide, member)


def test_reassign_moves_only_open_tasks_of_the_listed_members(brand_a, make_guide, customer, open_task):
    from tasks.models import GuideTask
    from tasks.services import tasks_reassign

    departed, successor = make_guide(brand_a, name="离职"), make_guide(brand_a, name="接替")
    moved_member, _ = customer(brand_a, departed, day0=dt.date(2026, 3, 1))
    kept_member, _ = customer(brand_a, departed, day0=dt.date(2026, 3, 1))
    _, successor_rel = customer(brand_a, successor, day0=dt.date(2026, 3, 1))
    from guides.services import relationship_record

    successor_rel, _ = relationship_record(guide=successor, member=moved_member,
                                           added_at=dt.datetime(2026, 3, 1, 2, tzinfo=dt.UTC))
    moving = open_task(brand_a, departed, moved_member, due_on=dt.date(2026, 3, 9), lifecycle_day=7)
    done = open_task(brand_a, departed, moved_member, ref="hq:d0", lifecycle_day=0)
    other = open_task(brand_a, departed, kept_member)
    with schema_context(brand_a.schema_name):
        GuideTask.objects.filter(pk=done.pk).update(state="done", completed_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))

    count = tasks_reassign(member_ids=[moved_member.pk], from_guide_id=departed.pk, to_guide_id=successor.pk)
    again = tasks_reassign(member_ids=[moved_member.pk], from_guide_id=departed.pk, to_guide_id=successor.pk)

    with schema_context(brand_a.schema_name):
        moving.refresh_from_db()
        done.refresh_from_db()
        other.refresh_from_db()
    assert (count, again) == (1, 0)
    assert (moving.guide_id, moving.due_on, moving.lifecycle_day, moving.relationship_id) == (
        successor.pk, dt.date(2026, 3, 9), 7, successor_rel.pk)
    assert done.guide_id == departed.pk
    assert other.guide_id == departed.pk


def test_reassign_refuses_guides_of_two_brands(brand_a, brand_b, make_guide):
    from scrm.errors import AppError
    from tasks.services import tasks_reassign

    with pytest.raises(AppError) as err:
        tasks_reassign(member_ids=[1], from_guide_id=make_guide(brand_a).pk, to_guide_id=make_guide(brand_b).pk)
    assert err.value.code == "cross_brand"
