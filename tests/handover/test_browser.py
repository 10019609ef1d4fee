"""Headless Chromium: a brand manager sees a handover in progress and its report; the successor sees the
inherited customers in the sidebar. The app is served from a background thread and talks to an in-thread
WeCom simulator (frozen clock); Celery runs eagerly inside the request that enqueues.

The data is committed (a browser cannot see a test transaction) and deleted afterwards. The ORM is only
used before the browser starts and after it stops (Playwright's sync API runs an event loop in this thread).
Screenshots land in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path

import pytest

from tests.live import CHROMIUM, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "ho-ui-pass-12345"
N = 6

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db,
    needs_chromium,
]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """A departed guide whose 6 customers are on their way to a colleague (one will refuse)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import override_settings
    from django_tenants.utils import schema_context

    from guides.handover.models import Handover
    from guides.models import Guide
    from guides.services import guide_resign, relationship_record
    from members.services import Identity, Profile, member_enroll
    from scrm.health import _redis
    from tenants.models import Brand, Counter, StaffRole, Store
    from wecom.simulator import SimConfig, start_in_thread
    from wecom.simulator.client import SimulatorControl

    suffix = uuid.uuid4().hex[:8]
    config = SimConfig(port=0, callback_url="", frozen=True, takeover_delay_seconds=3600,
                       corp_id=settings.WECOM_CORP_ID, corp_secret=settings.WECOM_SECRET,
                       agent_id=settings.WECOM_AGENT_ID, agent_secret=settings.WECOM_AGENT_SECRET,
                       token=settings.WECOM_TOKEN, aes_key=settings.WECOM_AES_KEY)
    base_url, server = start_in_thread(config)
    sim = SimulatorControl(base_url)
    overrides = override_settings(WECOM_API_BASE=server.api_base_url)
    overrides.enable()
    with django_db_blocker.unblock():
        for key in _redis().scan_iter("scrm:wecom:*"):
            _redis().delete(key)
        brand = Brand.objects.get(slug="lancome")
        store = Store.objects.create(code=f"HO{suffix}", name="徐汇店 Xuhui", city="上海", address="漕溪北路1111号",
                                     latitude="31.190000", longitude="121.437000")
        counter = Counter.objects.create(brand=brand, store=store, code=f"HO-{suffix}", name="兰蔻徐汇专柜",
                                         floor="1F")
        departed = Guide.objects.create(wecom_userid=f"ho-departed-{suffix}", name="王离职", brand=brand,
                                        counter=counter, hired_on=dt.date(2024, 3, 1))
        successor = Guide.objects.create(wecom_userid=f"ho-successor-{suffix}", name="李接替", brand=brand,
                                         counter=counter, hired_on=dt.date(2024, 3, 1))
        manager = get_user_model().objects.create_user(username=f"ho-manager-{suffix}", password=PASSWORD)
        StaffRole.objects.create(user=manager, role="brand_manager", brand=brand)
        for guide in (departed, successor):
            sim.member(guide.wecom_userid, name=guide.name, silent=True)
        names = ["林小雨", "周可欣", "陈思远", "赵敏", "孙悦", "钱多多"]
        euids = sim.customers(N, name_prefix="顾客")
        sim.seed_follows([{"userid": departed.wecom_userid, "external_userid": e, "state": "counter"} for e in euids])
        sim.transfer_outcome([euids[5]], "refuse")
        members = []
        day0 = dt.datetime(2026, 1, 5, 3, tzinfo=dt.UTC)
        for i, (name, euid) in enumerate(zip(names, euids, strict=True)):
            member = member_enroll(brand=brand, identity=Identity(external_userid=euid, corp_id=settings.WECOM_CORP_ID),
                                   profile=Profile(name=name), guide=departed, channel="counter").member
            relationship_record(guide=departed, member=member, external_userid=euid, channel="counter",
                                state="counter", added_at=day0 + dt.timedelta(days=i))
            members.append(member)
        sim.resign(departed.wecom_userid)
        guide_resign(guide=departed, source="test")  # committed: handover.start runs (eagerly) and submits
        with schema_context(brand.schema_name):
            handover = Handover.objects.get(guide=departed)
    data = {"brand": brand, "departed": departed, "successor": successor, "manager": manager, "members": members,
            "handover": handover, "sim": sim, "counter": counter, "store": store}
    yield data

    from django.contrib.sessions.models import Session

    from guides.brand.models import Relationship
    from members.brand.models import BrandMember
    from members.models import Member, MemberExternalId
    from tasks.models import GuideTask
    from tenants.models import AuditEvent

    member_ids = [m.pk for m in members]
    with django_db_blocker.unblock(), schema_context(brand.schema_name):
        Handover.objects.filter(guide=departed).delete()
        GuideTask.objects.filter(member_id__in=member_ids).delete()
        Relationship.objects.filter(member_id__in=member_ids).delete()
        BrandMember.objects.filter(member_id__in=member_ids).delete()
        MemberExternalId.objects.filter(member_id__in=member_ids).delete()
        AuditEvent.objects.filter(guide_id__in=[departed.pk, successor.pk]).delete()
        AuditEvent.objects.filter(member_id__in=member_ids).delete()
        Member.objects.filter(pk__in=member_ids).delete()
        Session.objects.all().delete()
        manager.delete()
        Guide.objects.filter(pk__in=[departed.pk, successor.pk]).delete()
        counter.delete()
        store.delete()
    overrides.disable()
    server.stop()


@pytest.fixture(scope="module")
def live_url(world, django_db_blocker):
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    with django_db_blocker.unblock():
        server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
        server.set_app(get_wsgi_application())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_address[1]
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def chromium(live_url):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


def test_manager_follows_a_handover_and_the_successor_sees_inherited_customers(chromium, live_url, world):
    from playwright.sync_api import expect

    handover, members = world["handover"], world["members"]
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = context.new_page()
    base = f"http://lancome.localhost:{live_url}"

    page.goto(f"{base}/login/")
    page.get_by_label("用户名 Username").fill(world["manager"].username)
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    page.get_by_role("link", name="客户继承 Handovers").click()
    row = page.get_by_test_id("handover-table").locator("tbody tr", has_text="王离职")
    expect(row).to_contain_text("等待接替 Waiting for results")
    page.screenshot(path=ARTIFACTS / "handover-1-in-progress.png", full_page=True)

    row.get_by_role("link", name=str(handover.pk)).click()
    counts = page.get_by_test_id("handover-counts")
    expect(counts).to_contain_text(f"客户总数 Total {N}")
    expect(counts).to_contain_text(f"等待中 Waiting {N}")
    expect(page.get_by_test_id("handover-items").locator("tbody tr")).to_have_count(N)

    world["sim"].advance(3601)  # WeCom's 24 hours pass (one customer refused)
    page.get_by_role("button", name="继续处理 Continue now").click()
    expect(counts).to_contain_text(f"接替完毕 Taken over {N - 1}")
    expect(counts).to_contain_text("客户拒绝 Refused 1")
    expect(page.get_by_text("已完成 Done")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "handover-2-report.png", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="导出CSV Export CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").strip().splitlines()
    assert len(lines) == N + 1 and sum(",taken_over," in line for line in lines) == N - 1
    context.close()

    mobile = chromium.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, locale="zh-CN")
    page = mobile.new_page()
    page.goto(f"http://localhost:{live_url}/sidebar/login/")
    page.get_by_test_id(f"pick-{world['successor'].wecom_userid}").click()
    expect(page.get_by_test_id("customer-list").locator("li")).to_have_count(N - 1)
    page.get_by_test_id("inherited-link").click()
    inherited = page.get_by_test_id("inherited-list").locator("li")
    expect(inherited).to_have_count(N - 1)
    expect(inherited.first).to_contain_text("继承自 From 王离职")
    expect(page.get_by_test_id("inherited-list")).to_contain_text("原添加 Day 0 2026-01-05")
    expect(page.get_by_test_id("inherited-list")).not_to_contain_text(members[5].name)  # refused: not inherited
    page.screenshot(path=ARTIFACTS / "handover-3-sidebar-inherited.png", full_page=True)
    mobile.close()
