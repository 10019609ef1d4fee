"""A guide watches their link's live numbers in the sidebar while a customer opens the link and the
mall's mini-program reports the order over the events API (real HTTP, committed data, Chromium)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.live import CHROMIUM, committed, live_server, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


def _world(base: str) -> dict:
    from guides.models import Guide
    from incentives.attribution import share_link_create
    from members.services import Identity, Profile, member_enroll
    from tenants.models import Brand, Counter, Store
    from tenants.services import api_client_create

    suffix = uuid.uuid4().hex[:6]
    brand = Brand.objects.get(slug="lancome")
    store = Store.objects.create(code=f"FD{suffix}", name="静安店 Jing'an", city="上海", address="南京西路1618号",
                                 latitude="31.229000", longitude="121.446000")
    counter = Counter.objects.create(brand=brand, store=store, code=f"FD-{suffix}", name="兰蔻静安专柜", floor="1F")
    guide = Guide.objects.create(wecom_userid=f"feed-{suffix}", name="陈小美", brand=brand, counter=counter,
                                 hired_on=dt.date(2025, 3, 1))
    member = member_enroll(brand=brand, identity=Identity(unionid=f"feed-{suffix}"),
                           profile=Profile(name="林小雨")).member
    link = share_link_create(guide=guide, kind="product", target_id="SKU-1", title="小黑瓶精华 Génifique",
                             target_url=f"{base}/healthz?sku=SKU-1")
    key = api_client_create(name="mini-program", brand=brand)[1]
    return {"guide": guide.wecom_userid, "guide_id": guide.pk, "member": member.code, "code": link.code, "key": key}


def _post(base: str, path: str, key: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json",
                                              "Host": "localhost"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_the_sidebar_feed_moves_after_an_order_event(django_db_setup, django_db_blocker):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with committed(django_db_blocker), live_server() as base:
        world = _world(base)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM),
                    args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                guide_page = browser.new_context(viewport={"width": 375, "height": 900}, locale="zh-CN").new_page()
                guide_page.goto(f"{base}/sidebar/login/")
                guide_page.get_by_test_id(f"pick-{world['guide']}").click()
                guide_page.get_by_test_id("tab-links").click()
                card = guide_page.get_by_test_id(f"link-{world['code']}")
                expect(card.locator('[data-f="bought"]')).to_have_text("0")

                # the customer opens the guide's link on their phone
                customer = browser.new_context().new_page()
                customer.goto(f"{base}/s/{world['code']}")
                token = parse_qs(urlsplit(customer.url).query)["scrm_share"][0]
                expect(card.locator('[data-f="opened"]')).to_have_text("1", timeout=10_000)

                # ... and buys; the mini-program reports the paid order with the token it was handed
                status, body = _post(base, "/api/v1/events/order-paid/", world["key"], {
                    "order_id": f"MP-{world['code']}", "brand": "lancome", "amount_cents": 300000,
                    "paid_at": dt.datetime.now(dt.UTC).isoformat(), "channel": "mini_program",
                    "member": world["member"], "share_token": token})
                assert (status, body["order"]["attributed_by"]) == (201, "share_link")

                # no reload: the page's poll picks it up within seconds
                expect(card.locator('[data-f="bought"]')).to_have_text("1", timeout=10_000)
                expect(card.locator('[data-f="sales"]')).to_have_text("3,000.00")
                expect(card.locator('[data-f="commission"]')).to_have_text("300.00")
                expect(guide_page.locator('[data-total="sales"]')).to_have_text("3,000.00")
                guide_page.screenshot(path=ARTIFACTS / "sidebar-incentives-feed.png", full_page=True)

                guide_page.get_by_test_id("tab-me").click()
                expect(guide_page.get_by_test_id("coins")).to_have_text("300")
                expect(guide_page.get_by_test_id("my-rank")).to_contain_text("1")
                guide_page.screenshot(path=ARTIFACTS / "sidebar-incentives-me.png", full_page=True)
                browser.close()
        finally:
            from incentives.models import GuideBalance

            GuideBalance.objects.filter(guide_id=world["guide_id"]).delete()  # keyed by guide, not by id
