"""Automatic completion from two more kinds of evidence: the customer joined the guide's group (day-0 invite),
and a dormant customer bought again. Each completes once, and only with evidence from after the task."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from tests.tasks.conftest import at_shanghai

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 9)
LONG_AGO = dt.date(2025, 1, 1)


def _task(brand, guide, member, *, task_type, source="lifecycle", ref="hq:d0", period="2026-03-09"):
    from tasks.models import GuideTask

    with schema_context(brand.schema_name):
        return GuideTask.objects.create(
            source=source, ref=ref, period=period, guide=guide, member=member, lifecycle_day=0,
            trigger_kind="dormant" if task_type == "dormant" else "", task_type=task_type, title="t", script="",
            issued_on=D, due_on=D + dt.timedelta(days=3))


def _reload(brand, task):
    with schema_context(brand.schema_name):
        task.refresh_from_db()
    return task


def _group(brand, owner, chat_id):
    from guides.brand.models import CustomerGroup

    with schema_context(brand.schema_name):
        return CustomerGroup.objects.create(chat_id=chat_id, name="兰蔻会员群", owner=owner,
                                            owner_userid=owner.wecom_userid)


def _join(brand, group, member, *, at, left_at=None):
    from guides.brand.models import CustomerGroupMember

    with schema_context(brand.schema_name):
        CustomerGroupMember.objects.create(group=group, userid=f"wm-{member.pk}-{group.pk}", type="external",
                                           member=member, join_time=at, left_at=left_at)


def _order(brand, member, *, paid_at, amount=30000, refunded=0):
    from incentives.brand.models import Order

    with schema_context(brand.schema_name):
        Order.objects.create(order_id=f"O-{member.pk}-{paid_at:%H%M%S}-{refunded}", channel="pos", member=member,
                             amount_cents=amount, refunded_cents=refunded, paid_at=paid_at,
                             attributed_by="none")


def _run(brand):
    from tasks.engine import generate

    return generate(brand=brand, day=D)


def test_joining_the_guides_group_completes_the_day0_invite(brand_a, make_guide, customer):
    guide, other = make_guide(brand_a), make_guide(brand_a)
    joined, _ = customer(brand_a, guide, day0=LONG_AGO)
    in_other_group, _ = customer(brand_a, guide, day0=LONG_AGO)
    left, _ = customer(brand_a, guide, day0=LONG_AGO)
    tasks = {m.pk: _task(brand_a, guide, m, task_type="welcome") for m in (joined, in_other_group, left)}
    mine, theirs = _group(brand_a, guide, "wr-mine"), _group(brand_a, other, "wr-theirs")
    _join(brand_a, mine, joined, at=at_shanghai(D, 15))
    _join(brand_a, theirs, in_other_group, at=at_shanghai(D, 15))
    _join(brand_a, mine, left, at=at_shanghai(D, 15), left_at=at_shanghai(D, 16))

    first = _run(brand_a)
    again = _run(brand_a)

    done = _reload(brand_a, tasks[joined.pk])
    assert (done.state, done.completed_by, done.evidence["chat_id"]) == ("done", "auto:group_joined", "wr-mine")
    assert _reload(brand_a, tasks[in_other_group.pk]).state == "open"  # another guide's group
    assert _reload(brand_a, tasks[left.pk]).state == "open"  # joined and left again
    assert (first.completed, again.completed) == (1, 0)


def test_a_dormant_customer_buying_again_completes_the_wake_up_task(brand_a, make_guide, customer):
    guide = make_guide(brand_a)
    woke, _ = customer(brand_a, guide, day0=LONG_AGO)
    bought_before, _ = customer(brand_a, guide, day0=LONG_AGO)
    refunded, _ = customer(brand_a, guide, day0=LONG_AGO)
    tasks = {m.pk: _task(brand_a, guide, m, task_type="dormant", source="trigger", ref="trigger:dormant",
                         period="2026-03") for m in (woke, bought_before, refunded)}
    _order(brand_a, woke, paid_at=at_shanghai(D, 14))
    _order(brand_a, bought_before, paid_at=at_shanghai(D - dt.timedelta(days=2), 14))
    _order(brand_a, refunded, paid_at=at_shanghai(D, 14), refunded=30000)

    _run(brand_a)

    done = _reload(brand_a, tasks[woke.pk])
    assert (done.state, done.completed_by) == ("done", "auto:order")
    assert done.evidence["order_id"].startswith(f"O-{woke.pk}-")
    assert _reload(brand_a, tasks[bought_before.pk]).state == "open"
    assert _reload(brand_a, tasks[refunded.pk]).state == "open"


def test_a_welcome_task_with_a_welcome_sent_and_a_group_joined_is_completed_by_the_welcome(
        brand_a, make_guide, customer):
    """The kinds of evidence are checked in one statement; a task with two kinds takes the first (the welcome)."""
    from wecom.models import CallbackEvent, WelcomeDelivery

    guide = make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=LONG_AGO)
    task = _task(brand_a, guide, member, task_type="welcome")
    _join(brand_a, _group(brand_a, guide, "wr-both"), member, at=at_shanghai(D, 15))
    event = CallbackEvent.objects.create(corp_id="ww", dedup_key="t-welcome-both", event="change_external_contact",
                                         create_time=0, payload={})
    WelcomeDelivery.objects.create(event=event, brand=brand_a, guide=guide, member=member, status="sent",
                                   sent_at=at_shanghai(D, 11))

    result = _run(brand_a)

    done = _reload(brand_a, task)
    assert (result.completed, done.completed_by, done.evidence["welcome_delivery_id"]) == (
        1, "auto:welcome", event.welcome.pk)
