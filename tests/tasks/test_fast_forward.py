"""DEMO_MODE's fast-forward: the brand's lifecycle moves N days on, one real engine night per day, so the guide's
"today" shows the next node; nothing is issued twice, a closed window is not issued, other brands are untouched.
Without DEMO_MODE it does not exist."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

pytestmark = pytest.mark.django_db


def lifecycle(brand, member) -> list[tuple[str, str, dt.date]]:
    from tasks.models import GuideTask

    with schema_context(brand.schema_name):
        return list(GuideTask.objects.filter(member=member, source="lifecycle").order_by("lifecycle_day")
                    .values_list("ref", "state", "issued_on"))


def console() -> Client:
    return Client(HTTP_HOST="localhost")


def test_fast_forwarding_7_days_brings_the_day_7_task_to_the_guides_today(
        brand_a, make_guide, customer, sidebar_as):
    from guides.brand.models import Relationship
    from tasks.engine import generate

    today = timezone.localdate()
    guide = make_guide(brand_a, name="演示导购")
    member, relationship = customer(brand_a, guide, day0=today, name="演示顾客")
    generate(brand=brand_a, day=today)

    response = console().post("/sidebar/demo/fast-forward/", {"brand": brand_a.pk, "days": "7"}, follow=True)

    assert "已快进7天" in response.content.decode()
    assert lifecycle(brand_a, member) == [("hq:d0", "expired", today - dt.timedelta(days=7)),
                                          ("hq:d7", "open", today)]
    with schema_context(brand_a.schema_name):
        added_at = Relationship.objects.get(pk=relationship.pk).added_at
    assert timezone.localdate(added_at) == today - dt.timedelta(days=7)
    page = sidebar_as(guide).get("/sidebar/today/").content.decode()
    assert "新会员7天权益" in page and "演示顾客" in page


def test_one_day_at_a_time_is_the_same_as_a_week_and_the_whole_28_days_issue_every_node_once(
        brand_a, brand_b, make_guide, customer):
    from tasks.demo import demo_fast_forward
    from tasks.engine import generate

    today = timezone.localdate()
    stepwise, _ = customer(brand_a, make_guide(brand_a), day0=today)
    other, _ = customer(brand_b, make_guide(brand_b), day0=today)
    generate(brand=brand_a, day=today)
    generate(brand=brand_b, day=today)

    for _ in range(7):
        demo_fast_forward(brand_id=brand_a.pk, days=1)
    after_a_week = lifecycle(brand_a, stepwise)
    demo_fast_forward(brand_id=brand_a.pk, days=21)
    rerun = generate(brand=brand_a, day=today)

    assert [ref for ref, _, _ in after_a_week] == ["hq:d0", "hq:d7"]
    assert [(ref, issued) for ref, _, issued in lifecycle(brand_a, stepwise)] == [
        (f"hq:d{n}", today - dt.timedelta(days=28 - n)) for n in (0, 7, 14, 21, 28)]
    assert rerun.created == 0
    assert lifecycle(brand_b, other) == [("hq:d0", "open", today)]  # another brand's clock did not move


def test_a_node_whose_window_closed_is_not_issued_while_a_late_customer_is_caught_up(brand_a, make_guide, customer):
    """The engine's rules hold across the jump: the night's run issues what is due, nothing from the past."""
    from tasks.demo import demo_fast_forward
    from tasks.engine import generate

    today = timezone.localdate()
    guide = make_guide(brand_a)
    generate(brand=brand_a, day=today)
    added_after_the_run, _ = customer(brand_a, guide, day0=today)  # tonight's run has happened already

    demo_fast_forward(brand_id=brand_a.pk, days=1)

    # the next night catches the day-0 task up (late, still inside its 2-day window)
    ((ref, state, issued),) = lifecycle(brand_a, added_after_the_run)
    assert (ref, state, issued) == ("hq:d0", "open", today)


def test_fast_forward_is_a_404_without_demo_mode(brand_a, settings):
    from guides.brand.models import Relationship
    from scrm.errors import NotFound
    from tasks.demo import demo_fast_forward

    settings.DEMO_MODE = False

    assert console().post("/sidebar/demo/fast-forward/", {"brand": brand_a.pk, "days": "1"}).status_code == 404
    with pytest.raises(NotFound):
        demo_fast_forward(brand_id=brand_a.pk, days=1)
    with schema_context(brand_a.schema_name):
        assert not Relationship.objects.exists()


@pytest.mark.parametrize("data", [{"days": "1"}, {"brand": "999999", "days": "1"}, {"brand": "ours", "days": "0"},
                                  {"brand": "ours", "days": "29"}, {"brand": "ours", "days": "x"}])
def test_a_bad_request_changes_nothing(brand_a, data):
    from tasks.models import EngineRun

    data = {**data, "brand": brand_a.pk} if data.get("brand") == "ours" else data

    response = console().post("/sidebar/demo/fast-forward/", data, follow=True)

    assert response.status_code == 200 and 'class="msg' in response.content.decode()
    with schema_context(brand_a.schema_name):
        assert not EngineRun.objects.exists()


def test_the_console_offers_it_and_a_get_does_nothing(brand_a, make_guide):
    make_guide(brand_a)

    page = console().get("/sidebar/demo/").content.decode()

    assert 'data-testid="fast-forward-7"' in page and brand_a.name in page
    assert console().get("/sidebar/demo/fast-forward/").status_code == 405
