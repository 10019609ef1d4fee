"""The nightly dispatcher: small brands share a job, a large brand is generated in parts over member ranges,
with what must happen once per run (evidence, cancellations, expiry, rewards, the watermark) done once, by
the last part; a part run twice or lost in a crash never issues a task twice nor loses one."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from tests.tasks.conftest import at_shanghai

pytestmark = pytest.mark.django_db

D0 = dt.date(2026, 3, 1)
D7 = D0 + dt.timedelta(days=7)


def tasks_of(brand, **filters):
    from tasks.models import GuideTask

    with schema_context(brand.schema_name):
        return list(GuideTask.objects.filter(**filters).order_by("member_id", "id"))


def runs_of(brand, day):
    from tasks.models import EngineRun

    with schema_context(brand.schema_name):
        return list(EngineRun.objects.filter(day=day).order_by("id"))


def parts_of(brand, run):
    from tasks.models import EnginePart

    with schema_context(brand.schema_name):
        return list(EnginePart.objects.filter(run=run).order_by("number"))


@pytest.fixture
def split_everything(settings):
    """Every brand counts as large, in parts of one relationship."""
    settings.TASKS_ENGINE_SPLIT_RELATIONSHIPS = 0
    settings.TASKS_ENGINE_PART_RELATIONSHIPS = 1


@pytest.fixture
def busy_brand(brand_a, make_guide, customer, open_task):
    """Three customers due for day 7 on D7, plus an overdue task, a task of an ended relationship and a done task
    whose reward is not credited yet: each must be handled once, whatever the number of parts."""
    from guides.services import relationship_end
    from tasks.models import GuideTask

    guide, other = make_guide(brand_a), make_guide(brand_a)
    members = [customer(brand_a, guide, day0=D0)[0] for _ in range(3)]
    gone, _ = customer(brand_a, other, day0=dt.date(2025, 1, 1))
    overdue = open_task(brand_a, guide, members[0], ref="hq:old", due_on=D7 - dt.timedelta(days=1))
    orphan = open_task(brand_a, other, gone, ref="hq:orphan", due_on=D7 + dt.timedelta(days=2))
    relationship_end(guide=other, member_id=gone.pk, reason="deleted_by_customer")
    done = open_task(brand_a, guide, members[1], ref="hq:done", due_on=D7 + dt.timedelta(days=2))
    with schema_context(brand_a.schema_name):
        GuideTask.objects.filter(pk=done.pk).update(state="done", completed_at=at_shanghai(D7 - dt.timedelta(days=1)),
                                                    reward_coins=7)
    return {"guide": guide, "members": members, "overdue": overdue, "orphan": orphan, "done": done}


def test_a_large_brand_is_generated_in_parts_and_closed_once(brand_a, busy_brand, split_everything):
    from incentives.models import RewardEntry
    from tasks.tasks import brands_dispatch

    schemas = brands_dispatch(day=D7, slug=brand_a.slug)  # eager in tests: every part runs here

    (run,) = runs_of(brand_a, D7)
    parts = parts_of(brand_a, run)
    assert schemas == [brand_a.schema_name]
    assert run.parts == len(parts) >= 3 and all(p.finished_at for p in parts)
    assert (run.finished_at is not None, run.created, run.expired, run.cancelled) == (True, 3, 1, 1)
    assert sum(p.created for p in parts) == 3
    assert [t.member_id for t in tasks_of(brand_a, ref="hq:d7")] == [m.pk for m in busy_brand["members"]]
    assert [t.state for t in tasks_of(brand_a, ref__in=["hq:old", "hq:orphan"])] == ["expired", "cancelled"]
    assert RewardEntry.objects.filter(guide=busy_brand["guide"], source="guide_task").count() == 1


def test_a_same_day_rerun_of_a_split_brand_is_one_job_and_creates_nothing(brand_a, busy_brand, split_everything):
    from tasks.tasks import brands_dispatch

    brands_dispatch(day=D7, slug=brand_a.slug)
    brands_dispatch(day=D7, slug=brand_a.slug)

    first, rerun = runs_of(brand_a, D7)
    assert (first.parts >= 3, rerun.parts, rerun.created, rerun.finished_at is not None) == (True, 0, 0, True)
    assert len(tasks_of(brand_a, ref="hq:d7")) == 3


def test_a_part_run_twice_does_nothing_and_only_the_last_part_closes_the_run(brand_a, busy_brand):
    from tasks.engine import generate_part, split_plan

    run_id, numbers = split_plan(brand=brand_a, day=D7, parts=3)

    first = generate_part(brand=brand_a, run_id=run_id, number=numbers[0])
    again = generate_part(brand=brand_a, run_id=run_id, number=numbers[0])
    (open_run,) = runs_of(brand_a, D7)
    last_two = [generate_part(brand=brand_a, run_id=run_id, number=n) for n in numbers[1:]]
    late_duplicate = generate_part(brand=brand_a, run_id=run_id, number=numbers[1])

    assert (first, again, open_run.finished_at, last_two[0], late_duplicate) == (None, None, None, None, None)
    assert (last_two[1].created, last_two[1].expired, last_two[1].cancelled) == (3, 1, 1)
    (run,) = runs_of(brand_a, D7)
    assert (run.finished_at is not None, run.created) == (True, 3)
    assert len(tasks_of(brand_a, ref="hq:d7")) == 3


def test_a_part_lost_in_a_crash_is_caught_up_by_the_next_run_and_nothing_is_issued_twice(brand_a, busy_brand):
    from tasks.engine import generate, generate_part, split_plan

    run_id, numbers = split_plan(brand=brand_a, day=D7, parts=2)
    generate_part(brand=brand_a, run_id=run_id, number=numbers[0])  # the worker dies before the other part
    done_in_part = {t.member_id for t in tasks_of(brand_a, ref="hq:d7")}

    caught_up = generate(brand=brand_a, day=D7 + dt.timedelta(days=1))

    d7 = tasks_of(brand_a, ref="hq:d7")
    assert 0 < len(done_in_part) < 3
    assert caught_up.created == 3 - len(done_in_part)
    assert [t.member_id for t in d7] == [m.pk for m in busy_brand["members"]]
    assert [t.late for t in d7 if t.member_id not in done_in_part] == [True] * caught_up.created
    assert [r.finished_at is not None for r in runs_of(brand_a, D7)] == [False]


def test_a_split_run_under_way_is_not_planned_again_by_the_next_dispatch(brand_a, busy_brand, split_everything):
    from tasks.engine import split_plan
    from tasks.tasks import brands_dispatch

    split_plan(brand=brand_a, day=D7, parts=2)  # its jobs are still queued

    brands_dispatch(day=D7, slug=brand_a.slug)

    assert [(r.parts, r.finished_at) for r in runs_of(brand_a, D7)] == [(2, None)]
    assert tasks_of(brand_a, ref="hq:d7") == []


def test_small_brands_share_a_job_up_to_the_size_of_a_job(brand_a, brand_b, make_guide, customer, settings,
                                                          monkeypatch):
    from tasks import tasks as engine_jobs

    for brand in (brand_a, brand_b):
        customer(brand, make_guide(brand), day0=D0)
    jobs = []
    monkeypatch.setattr(engine_jobs.generate_brands, "delay", lambda day, schemas: jobs.append(schemas))

    engine_jobs.brands_dispatch(day=D7)
    settings.TASKS_ENGINE_JOB_RELATIONSHIPS = 1
    engine_jobs.brands_dispatch(day=D7)

    both = sorted([brand_a.schema_name, brand_b.schema_name])
    assert (sorted(jobs[0]), sorted(jobs[1:])) == (both, [[both[0]], [both[1]]])
