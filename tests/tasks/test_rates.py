"""Completion rates: done / issued, on time vs late, expired, over 7 or 30 days; by guide, counter and store for a
brand, by brand, store and counter for the mall (counts only); and the overdue list for the brand's managers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.tasks.conftest import SHANGHAI

pytestmark = pytest.mark.django_db


def days(n: int, today: dt.date) -> dt.date:
    return today + dt.timedelta(days=n)


@pytest.fixture
def world(brand_a, brand_b, make_guide, enroll):
    """Brand A: 周 at counter A1 (store S1) with one task of every kind, 吴 at counter A2 (store S2) with one done on
    time; brand B: 郑 at counter B1 (store S1) with one expired. Dated around today."""
    from guides.models import Guide
    from tasks.models import GuideTask
    from tenants.models import Counter, Store

    today = timezone.localdate()
    s1 = Store.objects.create(code="R1", name="一号店 Store 1", city="上海", address="a", latitude=0, longitude=0)
    s2 = Store.objects.create(code="R2", name="二号店 Store 2", city="上海", address="b", latitude=0, longitude=0)
    a1 = Counter.objects.create(brand=brand_a, store=s1, code="RA1", name="兰蔻一号柜")
    a2 = Counter.objects.create(brand=brand_a, store=s2, code="RA2", name="兰蔻二号柜")
    b1 = Counter.objects.create(brand=brand_b, store=s1, code="RB1", name="耐克一号柜")
    zhou, wu = make_guide(brand_a, name="周导购"), make_guide(brand_a, name="吴导购")
    zheng = make_guide(brand_b, name="郑导购")
    Guide.objects.filter(pk=zhou.pk).update(counter=a1)
    Guide.objects.filter(pk=wu.pk).update(counter=a2)
    Guide.objects.filter(pk=zheng.pk).update(counter=b1)
    seq = iter(range(1000))

    def task(brand, guide, *, issued, due, state="open", completed=None, name="顾客"):
        from members.services import Profile

        n = next(seq)
        member = enroll(brand, guide=guide, unionid=f"u-rates-{n}", profile=Profile(name=f"{name}{n}")).member
        with schema_context(brand.schema_name):
            return GuideTask.objects.create(
                source="lifecycle", ref="hq:d7", period=f"p{n}", guide=guide, member=member, task_type="benefits",
                title="新会员7天权益", issued_on=days(issued, today), due_on=days(due, today), state=state,
                completed_at=completed, completed_by="guide" if completed else "")

    def at(day_offset: int, hour: int, minute: int = 0) -> dt.datetime:
        d = days(day_offset, today)
        return dt.datetime(d.year, d.month, d.day, hour, minute, tzinfo=SHANGHAI)

    task(brand_a, zhou, issued=-2, due=-1, state="done", completed=at(-1, 23, 30))  # on time, late evening
    task(brand_a, zhou, issued=-3, due=-1, state="done", completed=at(0, 0, 30))  # after its due day
    task(brand_a, zhou, issued=-5, due=-3, state="expired")
    task(brand_a, zhou, issued=-1, due=0, name="今天截止的顾客")  # open, due today
    task(brand_a, zhou, issued=0, due=2)  # open, not due yet
    task(brand_a, zhou, issued=-1, due=1, state="cancelled")  # the customer left: not counted
    task(brand_a, zhou, issued=-10, due=-8, state="done", completed=at(-9, 12))  # only in the 30 days
    task(brand_a, wu, issued=-1, due=1, state="done", completed=at(0, 9))
    task(brand_b, zheng, issued=-4, due=-2, state="expired", name="耐克顾客")
    return {"today": today, "zhou": zhou, "wu": wu, "zheng": zheng}


def counts(row) -> tuple:
    return (row["issued"], row["done"], row["on_time"], row["late"], row["expired"], row["open"], row["overdue"],
            row["rate"], row["on_time_rate"])


def test_a_brands_rates_by_guide_counter_and_store_over_7_and_30_days(brand_a, world):
    from tasks.selectors import completion_rates

    with schema_context(brand_a.schema_name):
        week = completion_rates(today=world["today"], days=7)
        month = completion_rates(today=world["today"], days=30)

    assert [(r["name"], counts(r)) for r in week["guide"]] == [
        ("周导购", (5, 2, 1, 1, 1, 2, 1, 40, 20)),  # lowest rate first
        ("吴导购", (1, 1, 1, 0, 0, 0, 0, 100, 100)),
    ]
    assert [(r["name"], r["issued"]) for r in week["counter"]] == [("兰蔻一号柜", 5), ("兰蔻二号柜", 1)]
    assert [(r["name"], r["issued"]) for r in week["store"]] == [("一号店 Store 1", 5), ("二号店 Store 2", 1)]
    assert counts(week["total"]) == (6, 3, 2, 1, 1, 2, 1, 50, 33)
    assert (week["days"], week["since"]) == (7, days(-6, world["today"]))
    assert counts(month["total"])[:3] == (7, 4, 3)
    assert "郑导购" not in [r["name"] for r in month["guide"]]  # brand B's tasks are in brand B's schema


def test_the_mall_adds_brands_up_by_brand_store_and_counter(world):
    from tasks.mall.reports import completion_all_brands

    report = completion_all_brands(today=world["today"], days=7)

    assert {r["name"]: (r["issued"], r["done"], r["expired"]) for r in report["brand"]} == {
        "兰蔻 Lancôme": (6, 3, 1), "耐克 Nike": (1, 0, 1)}
    assert {r["name"]: (r["issued"], r["expired"]) for r in report["store"]} == {
        "一号店 Store 1": (6, 2), "二号店 Store 2": (1, 0)}  # a store sums every brand's counters in it
    assert {(r["brand_name"], r["name"]): r["issued"] for r in report["counter"]} == {
        ("兰蔻 Lancôme", "兰蔻一号柜"): 5, ("兰蔻 Lancôme", "兰蔻二号柜"): 1, ("耐克 Nike", "耐克一号柜"): 1}
    assert counts(report["total"])[:5] == (7, 3, 2, 1, 2)
    assert not any("guide" in row or "member" in row for rows in report.values() if isinstance(rows, list)
                   for row in rows)


def test_the_dashboard_shows_rates_by_the_chosen_grouping_and_period(brand_a, world, manager_client):
    client = manager_client(brand_a)

    by_guide = client.get("/tasks/?days=7").content.decode()
    by_store = client.get("/tasks/?days=30&by=store").content.decode()

    rates = by_guide[by_guide.index('data-testid="completion-rates"'):by_guide.index('data-testid="newbies"')
                     if 'data-testid="newbies"' in by_guide else by_guide.index('data-testid="overdue"')]
    assert "周导购" in rates and "40%" in rates and "郑导购" not in by_guide
    assert "一号店 Store 1" in by_store and "近30天" in by_store


def test_the_overdue_list_names_customers_for_the_brands_managers_only(brand_a, world, manager_client, make_user):
    brand_a.sharing_policy = "full"  # mall staff may open the brand's dashboard
    brand_a.save()
    manager = manager_client(brand_a).get("/tasks/").content.decode()
    analyst = Client(HTTP_HOST=f"{brand_a.slug}.localhost")
    analyst.force_login(make_user("analyst-rates", "mall_analyst"))
    mall = analyst.get("/tasks/").content.decode()

    overdue = manager[manager.index('data-testid="overdue"'):]
    assert "今天截止的顾客" in overdue and "周导购" in overdue and "已过期 Expired" in overdue
    assert "耐克顾客" not in manager
    assert 'data-testid="overdue-aggregate"' in mall and "今天截止的顾客" not in mall
    assert "待办 open 1" in mall  # the count is there


def test_the_mall_completion_page_shows_counts_and_no_names(world, make_user):
    user = make_user("operator-rates", "mall_operator")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    by_brand = client.get("/admin/tasks_mall/programversion/completion/?days=7").content.decode()
    by_counter = client.get("/admin/tasks_mall/programversion/completion/?days=30&by=counter").content.decode()

    assert "兰蔻 Lancôme" in by_brand and "耐克 Nike" in by_brand
    assert 'data-testid="total-issued">7<' in by_brand
    assert "耐克一号柜" in by_counter
    for name in ("周导购", "郑导购", "今天截止的顾客", "耐克顾客"):
        assert name not in by_brand and name not in by_counter
