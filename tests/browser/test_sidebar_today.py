"""The sidebar "today" page in headless Chromium: the guide sees today's tasks, most urgent first, opens the
chat with a customer (the demo bar stands in for the WeCom client), sends the task's script with one tap
and confirms it done with a note.

Data is committed (the served app uses its own connections) and set up before Playwright starts: its sync
API runs an event loop, and Django refuses ORM calls from a thread with a running loop.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from tests.live import CHROMIUM, committed, live_server, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MOBILE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True,
          "device_scale_factor": 2, "locale": "zh-CN"}

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


def _world(settings):
    """A guide with two customers: one added 7 days ago (day-7 task), one yesterday (day-0 task, caught up)."""
    from django.utils import timezone

    from guides.models import Guide
    from guides.services import relationship_record
    from members.services import Identity, Profile, member_enroll
    from tasks.engine import generate
    from tenants.models import Brand, Counter, Store

    suffix = uuid.uuid4().hex[:8]
    brand = Brand.objects.get(slug="lancome")
    store = Store.objects.create(code=f"TD{suffix}", name="静安店 Jing'an", city="上海", address="南京西路1618号",
                                 latitude="31.229000", longitude="121.446000")
    counter = Counter.objects.create(brand=brand, store=store, code=f"TD-{suffix}", name="兰蔻静安专柜", floor="1F")
    guide = Guide.objects.create(wecom_userid=f"td-guide-{suffix}", name="陈小美", brand=brand, counter=counter,
                                 hired_on=dt.date(2025, 3, 1))
    today = timezone.localdate()
    customers = {}
    for name, days_ago in (("周可欣", 7), ("林小雨", 1)):
        euid = f"wm-td-{suffix}-{days_ago}"
        member = member_enroll(brand=brand, guide=guide, channel="qr:counter",
                               identity=Identity(external_userid=euid, corp_id=settings.WECOM_CORP_ID),
                               profile=Profile(name=name)).member
        relationship_record(guide=guide, member=member, external_userid=euid, channel="qr:counter",
                            added_at=timezone.now() - dt.timedelta(days=days_ago))
        customers[name] = {"euid": euid, "code": member.code}
    generate(brand=brand, day=today)
    return guide, customers


def test_guide_sends_todays_script_with_one_tap_and_confirms_it_done(django_db_setup, django_db_blocker, settings):
    with committed(django_db_blocker):
        guide, customers = _world(settings)
        try:
            _drive(guide, customers)
        finally:
            from incentives.models import GuideBalance

            # keyed by guide (no id column), so committed() would leave the reward balance behind
            rewarded = list(GuideBalance.objects.filter(guide_id=guide.pk).values_list("coins", flat=True))
            GuideBalance.objects.filter(guide_id=guide.pk).delete()
        assert rewarded == [10]


def _drive(guide, customers):
    from playwright.sync_api import expect, sync_playwright

    with live_server() as base, sync_playwright() as playwright:
        ARTIFACTS.mkdir(exist_ok=True)
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_context(**MOBILE).new_page()
        page.goto(f"{base}/sidebar/login/")
        page.get_by_test_id(f"pick-{guide.wecom_userid}").click()
        page.get_by_test_id("tab-today").click()

        tasks = page.get_by_test_id("task-list").get_by_test_id("task")
        expect(tasks).to_have_count(2)
        # yesterday's customer: the day-0 task was caught up (late) and is due today, so it comes first
        expect(tasks.first).to_contain_text("林小雨")
        expect(tasks.first).to_contain_text("今天截止 Due today")
        expect(tasks.first).to_contain_text("补发 Late")
        expect(tasks.nth(1)).to_contain_text("新会员7天权益")
        expect(page.get_by_test_id("count-open")).to_have_text("2")
        page.screenshot(path=ARTIFACTS / "sidebar-today-1-list-375.png", full_page=True)

        # open the chat with 周可欣: WeCom (here the demo bar) opens her page with her task
        page.get_by_test_id("demo-current-chat").select_option(value=customers["周可欣"]["euid"])
        expect(page).to_have_url(f"{base}/sidebar/customers/{customers['周可欣']['code']}/")
        card = page.get_by_test_id("customer-tasks").get_by_test_id("task")
        expect(card).to_have_count(1)
        send = card.get_by_test_id("task-send-button")
        expect(send).to_be_enabled()
        send.click()
        expect(page.get_by_test_id("demo-chat-log")).to_contain_text("周可欣您好，入会一周啦")
        expect(card).to_contain_text("已发送")
        page.screenshot(path=ARTIFACTS / "sidebar-today-2-sent-375.png", full_page=True)

        card.get_by_test_id("task-note").fill("已介绍会员权益，周末到店")
        card.get_by_test_id("task-done-button").click()
        expect(page.get_by_text("已完成 ✓ Done: 新会员7天权益")).to_be_visible()
        expect(page.get_by_test_id("customer-tasks")).to_have_count(0)

        page.get_by_test_id("tab-today").click()
        expect(page.get_by_test_id("task-list").get_by_test_id("task")).to_have_count(1)
        expect(page.get_by_test_id("count-done-today")).to_have_text("1")
        page.screenshot(path=ARTIFACTS / "sidebar-today-3-after-375.png", full_page=True)
        browser.close()

    from django_tenants.utils import schema_context

    from tasks.models import GuideTask

    with schema_context(guide.brand.schema_name):
        done = GuideTask.objects.get(guide_id=guide.pk, state="done")
    assert (done.title, done.note, done.completed_by) == ("新会员7天权益", "已介绍会员权益，周末到店", "guide")
