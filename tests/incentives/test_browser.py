"""In Chromium against a live server (committed data): a brand manager opens the leaderboards with their chart,
mall ops open the attribution report across brands and the mall's boards. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from tests.live import CHROMIUM, committed, live_server, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pass12345"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


def _world() -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from guides.models import Guide
    from incentives import attribution
    from tenants.models import Brand, Counter, StaffRole, Store

    suffix = uuid.uuid4().hex[:6]
    lancome, nike = Brand.objects.get(slug="lancome"), Brand.objects.get(slug="nike")
    store = Store.objects.create(code=f"LB{suffix}", name="静安店 Jing'an", city="上海", address="南京西路1618号",
                                 latitude="31.229000", longitude="121.446000")
    now = timezone.now()
    guides = []
    for brand, names in ((lancome, ["陈小美", "王佳怡", "李思涵", "张可馨"]), (nike, ["刘浩然", "赵宇轩"])):
        counter = Counter.objects.create(brand=brand, store=store, code=f"LB-{brand.slug}-{suffix}",
                                         name=f"{brand.name.split()[0]}静安专柜", floor="1F")
        for name in names:
            guides.append(Guide.objects.create(wecom_userid=f"lb-{suffix}-{len(guides)}", name=name, brand=brand,
                                               counter=counter, hired_on=dt.date(2024, 3, 1)))
    for index, (guide, cents) in enumerate(zip(guides, [259900, 129900, 99900, 39900, 189900, 69900], strict=True)):
        link = attribution.share_link_create(guide=guide, kind="product", target_id="SKU-1", title="t",
                                             target_url="https://shop.example.com/p/1")
        attribution.order_paid(brand=guide.brand, order_id=f"LB-{suffix}-{index}", amount_cents=cents, paid_at=now,
                               channel="mini_program" if index % 2 else "pos",
                               share_token=attribution.share_token_make(link, at=now - dt.timedelta(minutes=3)))
    attribution.order_refunded(brand=lancome, order_id=f"LB-{suffix}-0", refund_id="R1", amount_cents=50000)
    User = get_user_model()
    manager = User.objects.create_user(username=f"lb-mgr-{suffix}", password=PASSWORD)
    StaffRole.objects.create(user=manager, role="brand_manager", brand=lancome)
    ops = User.objects.create_user(username=f"lb-ops-{suffix}", password=PASSWORD, is_staff=True)
    StaffRole.objects.create(user=ops, role="mall_analyst")
    return {"manager": manager.username, "ops": ops.username, "store": store.pk, "nike": [g.name for g in guides[4:]]}


def _sign_in(page, url, username):
    page.goto(url)
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")


def test_leaderboards_and_the_ops_report_in_a_browser(django_db_setup, django_db_blocker, clean_redis):
    from django.contrib.sessions.models import Session
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    sessions = []
    with committed(django_db_blocker), live_server() as base:
        world = _world()
        port = base.rsplit(":", 1)[1]
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM),
                    args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                brand = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
                page = brand.new_page()
                _sign_in(page, f"http://lancome.localhost:{port}/login/", world["manager"])
                page.goto(f"http://lancome.localhost:{port}/incentives/leaderboards/?period=today&scope=store"
                          f"&store={world['store']}")
                table = page.get_by_test_id("board-table")
                expect(table.locator("tbody tr")).to_have_count(4)
                expect(table.locator("tbody tr").first).to_contain_text("陈小美")
                expect(page.get_by_test_id("board-chart").locator("svg rect")).to_have_count(4)
                for name in world["nike"]:
                    expect(page.get_by_text(name)).to_have_count(0)
                page.screenshot(path=ARTIFACTS / "incentives-brand-leaderboards.png", full_page=True)
                sessions += [c["value"] for c in brand.cookies() if c["name"] == "sessionid"]

                mall = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
                page = mall.new_page()
                _sign_in(page, f"http://localhost:{port}/admin/login/", world["ops"])
                page.goto(f"http://localhost:{port}/admin/incentives/attributionsettings/report/?group=store")
                expect(page.get_by_test_id("ops-report-table").locator("tbody tr").first).to_contain_text("静安店")
                page.screenshot(path=ARTIFACTS / "incentives-ops-report.png", full_page=True)
                page.get_by_role("link", name="排行榜 Leaderboards ›").click()
                page.get_by_test_id("ops-board-filter").locator("select[name=period]").select_option("today")
                page.get_by_test_id("ops-board-filter").locator("input[type=submit]").click()
                expect(page.get_by_test_id("ops-board-chart").locator("svg rect")).to_have_count(6)
                page.screenshot(path=ARTIFACTS / "incentives-ops-leaderboards.png", full_page=True)
                sessions += [c["value"] for c in mall.cookies() if c["name"] == "sessionid"]
                browser.close()
        finally:
            Session.objects.filter(session_key__in=sessions).delete()
