"""Campaign tasks in headless Chromium: the guide sees a claimed campaign's progress on "today" at 375px and
claims another; the brand manager follows progress per guide and meets the form's Chinese-first errors.
Screenshots land in test-artifacts/ (git-ignored). Data is committed before the browser starts (the served
app uses its own connections) and removed after, as in tests/browser/."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from tests.live import CHROMIUM, committed, live_server, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MOBILE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True,
          "device_scale_factor": 2, "locale": "zh-CN"}
PASSWORD = "ui-pass-12345"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


def _world():
    """Lancôme's sprint (claimed by two guides, one past the target) and a mall campaign to claim."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from guides.models import Guide
    from incentives import attribution
    from tasks.mall import services
    from tenants.models import Brand, Counter, StaffRole, Store

    suffix = uuid.uuid4().hex[:8]
    brand = Brand.objects.get(slug="lancome")
    store = Store.objects.create(code=f"CB{suffix}", name="静安店 Jing'an", city="上海", address="南京西路1618号",
                                 latitude="31.229000", longitude="121.446000")
    counter = Counter.objects.create(brand=brand, store=store, code=f"CB-{suffix}", name="兰蔻静安专柜", floor="1F")
    guides = [Guide.objects.create(wecom_userid=f"cb-{n}-{suffix}", name=name, brand=brand, counter=counter,
                                   hired_on=dt.date(2025, 3, 1)) for n, name in enumerate(("陈小美", "李安妮", "王静"))]
    manager = get_user_model().objects.create_user(username=f"cb-manager-{suffix}", password=PASSWORD)
    StaffRole.objects.create(user=manager, role="brand_manager", brand=brand)
    now = timezone.now()
    sprint = services.campaign_save(
        owner=brand, actor="test", title="周末小黑瓶冲刺", description="周末两天，小黑瓶销售额达到¥3,000即得奖励。",
        script="亲，周末小黑瓶专享礼，线上下单也算哦～", audience="all", starts_at=now - dt.timedelta(hours=5),
        ends_at=now + dt.timedelta(days=2), metric="sales", target=300000, reward_coins=200, reward_exp=100,
        top_n=1, top_coins=300, top_exp=150)
    services.campaign_publish(owner=brand, campaign_id=sprint.pk, actor="test")
    mall = services.campaign_save(
        owner=None, actor="test", title="雨天线上拉新赛", description="今天下雨，线上加好友也算！", audience="all",
        starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=10), metric="customers", target=5,
        reward_coins=50, reward_exp=50)
    services.campaign_publish(owner=None, campaign_id=mall.pk, actor="test")
    for guide, cents in ((guides[0], 180000), (guides[1], 320000)):
        services.campaign_claim(guide=guide, campaign_id=sprint.pk)
        link = attribution.share_link_create(guide=guide, kind="product", target_id=f"SKU-{suffix}", title="小黑瓶",
                                             target_url="https://shop.example.com/p/1")
        paid = now - dt.timedelta(hours=2)
        attribution.order_paid(brand=brand, order_id=f"CB-{guide.pk}-{suffix}", amount_cents=cents, paid_at=paid,
                               channel="mini_program",
                               share_token=attribution.share_token_make(link, at=paid - dt.timedelta(minutes=3)))
    services.campaign_progress_refresh(campaign_id=sprint.pk)
    return {"guide": guides[0], "manager": manager, "sprint": sprint, "mall": mall, "guides": guides}


def test_guide_and_manager_follow_a_campaign(django_db_setup, django_db_blocker):
    with committed(django_db_blocker):
        world = _world()
        try:
            _drive(world)
        finally:
            from incentives.models import GuideBalance

            GuideBalance.objects.filter(guide_id__in=[g.pk for g in world["guides"]]).delete()  # keyed by guide
        from tasks.mall.models import CampaignClaim

        claims = sorted(CampaignClaim.objects.filter(guide=world["guide"]).values_list("campaign_id", flat=True))
    assert claims == sorted([world["sprint"].pk, world["mall"].pk])


def _drive(world):
    from playwright.sync_api import expect, sync_playwright

    with live_server() as base, sync_playwright() as playwright:
        ARTIFACTS.mkdir(exist_ok=True)
        port = base.rsplit(":", 1)[1]
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])

        # the guide, in the WeCom sidebar (375px)
        page = browser.new_context(**MOBILE).new_page()
        page.goto(f"http://localhost:{port}/sidebar/login/")
        page.get_by_test_id(f"pick-{world['guide'].wecom_userid}").click()
        page.get_by_test_id("tab-today").click()
        page.locator("[data-demo-toggle]").click()  # fold the demo chat bar: it would cover the cards
        cards = page.get_by_test_id("campaign")
        expect(cards).to_have_count(2)
        expect(cards.first).to_contain_text("周末小黑瓶冲刺")
        expect(cards.first.get_by_test_id("campaign-progress-value")).to_have_text("¥1,800")
        expect(cards.first.get_by_test_id("campaign-progress")).to_have_attribute("aria-valuenow", "60")
        expect(cards.nth(1)).to_contain_text("雨天线上拉新赛")
        page.screenshot(path=ARTIFACTS / "campaigns-1-sidebar-today-375.png", full_page=True)

        cards.nth(1).get_by_test_id("campaign-claim").click()
        expect(page.get_by_text("已领取 ✓ Claimed: 雨天线上拉新赛")).to_be_visible()
        expect(page.get_by_test_id("campaign-claim")).to_have_count(0)
        page.get_by_test_id("all-campaigns").click()
        expect(page.get_by_test_id("campaigns-running").get_by_test_id("campaign")).to_have_count(2)
        page.get_by_test_id("campaigns-running").locator("summary").first.click()
        page.screenshot(path=ARTIFACTS / "campaigns-2-sidebar-claimed-375.png", full_page=True)

        # the brand manager, on the brand dashboard
        page = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN").new_page()
        dashboard = f"http://lancome.localhost:{port}"
        page.goto(f"{dashboard}/login/")
        page.get_by_label("用户名 Username").fill(world["manager"].username)
        page.get_by_label("密码 Password").fill(PASSWORD)
        page.get_by_role("button", name="登录 Sign in").click()
        page.get_by_role("link", name="活动任务 Campaigns").click()
        expect(page.get_by_test_id(f"campaign-row-{world['sprint'].pk}")).to_contain_text("周末小黑瓶冲刺")
        expect(page.get_by_test_id(f"campaign-row-{world['mall'].pk}")).to_contain_text("雨天线上拉新赛")
        page.screenshot(path=ARTIFACTS / "campaigns-3-dashboard-list.png", full_page=True)

        page.get_by_role("link", name="周末小黑瓶冲刺").click()
        rows = page.get_by_test_id("campaign-claims").locator("tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("李安妮")
        expect(rows.first).to_contain_text("已达标 Reached")
        expect(rows.nth(1)).to_contain_text("¥1,800")
        expect(page.get_by_test_id("figure-claimed")).to_have_text("2")
        page.screenshot(path=ARTIFACTS / "campaigns-4-dashboard-detail.png", full_page=True)

        page.goto(f"{dashboard}/campaigns/new/")
        page.get_by_label("标题 Title").fill("")
        page.get_by_label("结束 Ends").fill("2020-01-01T10:00")
        page.get_by_test_id("campaign-publish").click()
        expect(page.get_by_test_id("error-title")).to_contain_text("必填 Required.")
        expect(page.get_by_test_id("form-errors")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "campaigns-5-dashboard-form-errors.png", full_page=True)
        browser.close()
