"""Task-engine fixtures: customers of a brand's guides with a chosen lifecycle day 0."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django_tenants.utils import schema_context

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
_seq = itertools.count(1)


def at_shanghai(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def customer(enroll):
    """customer(brand, guide, day0=date) -> (member, relationship): enrolled and added on ``day0`` (10:00 Shanghai)."""
    from guides.services import relationship_record

    def make(brand, guide, *, day0: dt.date, name: str | None = None, birthday: dt.date | None = None):
        from members.services import Profile

        n = next(_seq)
        member = enroll(brand, guide=guide, channel="poster", unionid=f"u-task-{brand.slug}-{n}",
                        profile=Profile(name=name or f"顾客{n}", birthday=birthday)).member
        relationship, _ = relationship_record(guide=guide, member=member, channel="poster",
                                              added_at=at_shanghai(day0))
        return member, relationship

    return make


@pytest.fixture
def open_task():
    """open_task(brand, guide, member, ...) -> GuideTask: a task as the engine would issue it."""

    def make(brand, guide, member, *, ref="hq:d7", due_on=dt.date(2026, 3, 10), lifecycle_day=7, relationship=None):
        from tasks.models import GuideTask

        with schema_context(brand.schema_name):
            return GuideTask.objects.create(
                source="lifecycle", ref=ref, period="2026-03-01", guide=guide, member=member,
                relationship=relationship, lifecycle_day=lifecycle_day, task_type="benefits", title="新会员7天权益",
                script="", issued_on=due_on - dt.timedelta(days=2), due_on=due_on)

    return make


@pytest.fixture
def sidebar_as():
    """A mall-host client signed in to the sidebar as ``guide`` through the demo picker."""
    from django.test import Client

    def sign_in(guide):
        client = Client(HTTP_HOST="localhost")
        response = client.post("/sidebar/login/", {"guide_id": guide.pk})
        assert response.status_code == 302
        return client

    return sign_in


@pytest.fixture
def manager_client(make_user):
    """manager_client(brand, role="brand_manager") -> a client signed in on the brand's dashboard host."""
    from django.test import Client

    def make(brand, role="brand_manager"):
        user = make_user(f"{role}-{brand.slug}-{next(_seq)}", role,
                         brand=None if role.startswith("mall_") else brand)
        client = Client(HTTP_HOST=f"{brand.slug}.localhost")
        client.force_login(user)
        return client

    return make
