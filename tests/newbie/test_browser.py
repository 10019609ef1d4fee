"""The newbie checklist in headless Chromium at the sidebar's width (375px): a new guide sees the quest card
on "today", taps "done" on the Moments cover, finishes a first customer task, and watches progress and
coins move. Data is committed (the served app uses its own connections) and set up before Playwright starts.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.browser.test_sidebar_today import ARTIFACTS, CHROMIUM, MOBILE
from tests.live import committed, live_server, needs_chromium

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


def _world(settings):
    """A guide hired 3 days ago with two customers (today's day-0 tasks) and one share link."""
    from django.utils import timezone

    from guides.models import Guide
    from guides.services import relationship_record
    from incentives.attribution import share_link_create
    from members.services import Identity, Profile, member_enroll
    from tasks.engine import generate
    from tasks.newbie.services import newbie_refresh
    from tenants.models import Brand, Counter, Store

    suffix = uuid.uuid4().hex[:8]
    brand = Brand.objects.get(slug="lancome")
    store = Store.objects.create(code=f"NB{suffix}", name="静安店 Jing'an", city="上海", address="南京西路1618号",
                                 latitude="31.229000", longitude="121.446000")
    counter = Counter.objects.create(brand=brand, store=store, code=f"NB-{suffix}", name="兰蔻静安专柜", floor="1F")
    guide = Guide.objects.create(wecom_userid=f"nb-guide-{suffix}", name="林新新", brand=brand, counter=counter,
                                 hired_on=timezone.localdate() - dt.timedelta(days=3))
    for name in ("周可欣", "王芳"):
        euid = f"wm-nb-{suffix}-{name}"
        member = member_enroll(brand=brand, guide=guide, channel="qr:counter",
                               identity=Identity(external_userid=euid, corp_id=settings.WECOM_CORP_ID),
                               profile=Profile(name=name)).member
        relationship_record(guide=guide, member=member, external_userid=euid, channel="qr:counter")
    generate(brand=brand, day=timezone.localdate())
    share_link_create(guide=guide, kind="product", target_id="SKU-NB", title="小黑瓶精华",
                      target_url="https://mall.example.com/p/1")
    newbie_refresh(brand=brand, guide_ids=[guide.pk])
    return guide


def test_a_new_guide_plays_the_checklist_on_today(django_db_setup, django_db_blocker, settings):
    with committed(django_db_blocker):
        guide = _world(settings)
        try:
            _drive(guide)
        finally:
            from incentives.models import GuideBalance

            coins = list(GuideBalance.objects.filter(guide_id=guide.pk).values_list("coins", flat=True))
            GuideBalance.objects.filter(guide_id=guide.pk).delete()  # keyed by guide: committed() keeps it
    assert coins == [10 + 20 + 10 + 20]  # cover + share link + the task's own reward + first task step


def _drive(guide):
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

        card = page.get_by_test_id("newbie-checklist")
        expect(card).to_be_visible()
        expect(page.get_by_test_id("newbie-progress")).to_have_text("1/5")
        expect(card.locator(".nb-step.next")).to_contain_text("设置朋友圈封面")
        page.screenshot(path=ARTIFACTS / "newbie-1-today-375.png", full_page=True)
        card.screenshot(path=ARTIFACTS / "newbie-1-card-375.png")

        card.get_by_test_id("newbie-confirm").click()
        expect(page.get_by_text("新手任务完成 ✓ Newbie step done!")).to_be_visible()
        expect(page.get_by_test_id("newbie-progress")).to_have_text("2/5")
        expect(page.get_by_test_id("newbie-checklist").locator(".nb-step.next")).to_contain_text("添加3位客户")

        first_task = page.get_by_test_id("task-list").get_by_test_id("task").first
        first_task.get_by_test_id("task-done-button").click()
        expect(page.get_by_test_id("newbie-progress")).to_have_text("3/5")
        expect(page.get_by_test_id("newbie-coins").locator("b")).to_have_text("50")
        page.screenshot(path=ARTIFACTS / "newbie-2-after-375.png", full_page=True)
        page.get_by_test_id("newbie-checklist").screenshot(path=ARTIFACTS / "newbie-2-card-375.png")
        browser.close()
