"""End-to-end flows in headless Chromium against the real app served from a background thread.

The data is committed (a browser cannot see a test transaction), so it is created with unique
names and deleted explicitly afterwards. Screenshots land in test-artifacts/ (git-ignored).

The ORM is only used before the browser starts and after it stops: Playwright's sync API runs
an event loop, and Django refuses ORM calls from a thread with a running loop.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path

import pytest

from tests.live import CHROMIUM, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "ui-pass-12345"

pytestmark = [
    pytest.mark.browser,
    # Makes pytest-django create the test database when this module runs alone. The per-test
    # transaction stays empty: the served app uses its own connections and sees committed rows.
    pytest.mark.django_db,
    needs_chromium,
]


class _QuietHandler:
    """Mixin: no per-request access log on the test output."""

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def ui_data(django_db_setup, django_db_blocker):
    """Committed demo rows for the flows: a store, counter, guide, manager, members, points, coupons."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from guides.models import Guide
    from guides.services import relationship_add
    from members.brand.models import BrandCouponTemplate, BrandMember
    from members.models import CouponTemplate
    from members.services import Identity, Profile, coupon_issue, member_enroll, points_earn
    from tenants.models import Brand, Counter, StaffRole, Store

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        brand = Brand.objects.get(slug="lancome")
        store = Store.objects.create(code=f"UI{suffix}", name="静安店 Jing'an", city="上海", address="南京西路1618号",
                                     latitude="31.229000", longitude="121.446000")
        counter = Counter.objects.create(brand=brand, store=store, code=f"UI-{suffix}", name="兰蔻静安专柜",
                                         floor="1F")
        guide = Guide.objects.create(wecom_userid=f"ui-guide-{suffix}", name="陈小美", brand=brand, counter=counter,
                                     hired_on=dt.date(2025, 3, 1))
        manager = get_user_model().objects.create_user(username=f"ui-manager-{suffix}", password=PASSWORD)
        StaffRole.objects.create(user=manager, role="brand_manager", brand=brand)

        people = [("林小雨", "female", dt.date(1994, 6, 18), 9, 2480),
                  ("周可欣", "female", dt.date(1990, 11, 2), 3, 360),
                  ("陈思远", "male", None, 0, 0)]
        members = []
        for index, (name, gender, birthday, days_ago, points) in enumerate(people):
            member = member_enroll(
                brand=brand, guide=guide, channel="qr:counter",
                identity=Identity(unionid=f"ui-{suffix}-{index}", phone=f"139{uuid.uuid4().int % 10**8:08d}"),
                profile=Profile(name=name, gender=gender, birthday=birthday, marketing_consent=True),
            ).member
            relationship_add(guide=guide, member=member, channel="qr:counter",
                             added_at=timezone.now() - dt.timedelta(days=days_ago))
            if points:
                points_earn(member=member, amount=points, idempotency_key=f"ui-{suffix}-order-{index}",
                            brand=brand, reason="专柜消费 Counter sale")
            members.append(member)
        star = members[0]
        mall_template = CouponTemplate.objects.create(name="商场满300减50 Mall ¥50 off ¥300", kind="cash",
                                                      value_cents=5000, threshold_cents=30000, valid_days=30)
        coupon_issue(template=mall_template, member=star)
        with schema_context(brand.schema_name):
            BrandMember.objects.filter(member=star).update(tags=["VIP", "护肤 Skincare"],
                                                           notes="偏好小黑瓶精华，周末到店。")
            brand_template = BrandCouponTemplate.objects.create(name="兰蔻新客礼 Welcome gift", kind="discount",
                                                                discount_percent=85, valid_days=14)
            coupon_issue(template=brand_template, member=star, guide=guide)

    data = {"brand": brand, "guide": guide, "manager": manager, "members": members, "star": star,
            "session_keys": []}
    yield data

    from django.contrib.sessions.models import Session
    from django.db.models import Q

    from guides.brand.models import Relationship
    from members.brand.models import BrandCoupon
    from members.models import Coupon, Member, PointsEntry, TierChange
    from tenants.models import AuditEvent

    member_ids = [m.pk for m in members]
    # Inside the brand's schema the search path is "brand, public": Django's delete collector
    # then finds the brand rows that point at members and guides across the schemas.
    with django_db_blocker.unblock(), schema_context(brand.schema_name):
        BrandCoupon.objects.filter(member_id__in=member_ids).delete()
        brand_template.delete()
        Relationship.objects.filter(guide=guide).delete()
        BrandMember.objects.filter(member_id__in=member_ids).delete()
        Coupon.objects.filter(member_id__in=member_ids).delete()
        mall_template.delete()
        TierChange.objects.filter(member_id__in=member_ids).delete()
        PointsEntry.objects.filter(member_id__in=member_ids).delete()
        Member.objects.filter(pk__in=member_ids).delete()
        AuditEvent.objects.filter(Q(member_id__in=member_ids) | Q(guide_id=guide.pk)).delete()
        Session.objects.filter(session_key__in=data["session_keys"]).delete()
        manager.delete()  # and its StaffRole
        guide.delete()
        counter.delete()
        store.delete()


@pytest.fixture(scope="module")
def live_url(ui_data, django_db_blocker):
    """The app on 127.0.0.1:<free port>, served by threads with their own DB connections."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    handler = type("QuietHandler", (_QuietHandler, WSGIRequestHandler), {})
    with django_db_blocker.unblock():
        server = ThreadedWSGIServer(("127.0.0.1", 0), handler, allow_reuse_address=False)
        server.set_app(get_wsgi_application())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_address[1]
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def chromium(live_url):
    """A browser per test, started after pytest-django's per-test setup (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def _remember_sessions(context, ui_data) -> None:
    ui_data["session_keys"] += [c["value"] for c in context.cookies() if c["name"] == "sessionid"]


def test_brand_manager_finds_a_member_and_sees_both_memberships(chromium, live_url, ui_data):
    from playwright.sync_api import expect

    star = ui_data["star"]
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = context.new_page()
    base = f"http://lancome.localhost:{live_url}"

    page.goto(f"{base}/login/")
    expect(page.get_by_role("heading", name="兰蔻 Lancôme")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "dashboard-1-login.png")
    page.get_by_label("用户名 Username").fill(ui_data["manager"].username)
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()

    expect(page.get_by_test_id("members-total")).to_have_text("3")
    page.screenshot(path=ARTIFACTS / "dashboard-2-overview.png", full_page=True)

    page.get_by_role("link", name="会员 Members", exact=True).click()
    page.get_by_placeholder("会员码 / 手机号 / 姓名 · Code, phone or name").fill("林")
    page.get_by_role("button", name="搜索 Search").click()
    rows = page.get_by_test_id("member-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("林小雨")
    page.screenshot(path=ARTIFACTS / "dashboard-3-search.png", full_page=True)

    page.get_by_role("link", name=star.code).click()
    expect(page.get_by_test_id("points-balance")).to_have_text("2480")
    expect(page.get_by_test_id("mall-membership")).to_contain_text("银卡 Silver")
    expect(page.get_by_test_id("brand-membership")).to_contain_text("陈小美")
    expect(page.get_by_test_id("brand-membership")).to_contain_text("qr:counter")
    expect(page.get_by_test_id("points-history")).to_contain_text("+2480")
    expect(page.get_by_text("兰蔻新客礼 Welcome gift")).to_be_visible()
    expect(page.get_by_text("商场满300减50 Mall ¥50 off ¥300")).to_be_visible()
    qr_loaded = page.locator("img[alt^='会员码二维码']").evaluate("img => img.complete && img.naturalWidth > 0")
    assert qr_loaded
    page.screenshot(path=ARTIFACTS / "dashboard-4-member.png", full_page=True)
    _remember_sessions(context, ui_data)
    context.close()


@pytest.mark.parametrize("device", [
    {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True},
    {"viewport": {"width": 1280, "height": 800}, "is_mobile": False, "has_touch": False},
], ids=["mobile-375", "desktop"])
def test_guide_picks_themself_and_opens_a_customer(chromium, live_url, ui_data, device):
    from playwright.sync_api import expect

    guide, star = ui_data["guide"], ui_data["star"]
    name = str(device["viewport"]["width"])
    context = chromium.new_context(**device, device_scale_factor=2, locale="zh-CN")
    page = context.new_page()

    # an ordinary browser has no WeCom sign-in: the demo picker on the sign-in page stands in for it
    page.goto(f"http://localhost:{live_url}/sidebar/login/")
    expect(page.get_by_role("heading", name="选择导购 · Choose a guide")).to_be_visible()
    page.screenshot(path=ARTIFACTS / f"sidebar-{name}-1-picker.png", full_page=True)
    page.get_by_test_id(f"pick-{guide.wecom_userid}").click()

    customers = page.get_by_test_id("customer-list").locator("li")
    expect(customers).to_have_count(3)
    expect(customers.first).to_contain_text("陈思远")
    expect(page.get_by_test_id("customer-list")).to_contain_text("第9天 · Day 9")
    page.screenshot(path=ARTIFACTS / f"sidebar-{name}-2-customers.png", full_page=True)

    page.get_by_role("link", name="林小雨").click()
    expect(page.get_by_test_id("points-balance")).to_have_text("2480")
    expect(page.get_by_test_id("customer-card")).to_contain_text("银卡 Silver")
    expect(page.get_by_test_id("customer-card")).to_contain_text(star.phone_masked)
    expect(page.get_by_test_id("brand-membership")).to_contain_text("VIP")
    expect(page.get_by_test_id("brand-coupons")).to_contain_text("兰蔻新客礼 Welcome gift")
    expect(page.get_by_test_id("mall-coupons")).to_contain_text("已发放 Issued")
    page.screenshot(path=ARTIFACTS / f"sidebar-{name}-3-customer.png", full_page=True)
    _remember_sessions(context, ui_data)
    context.close()


def test_mall_home_links_every_brand_dashboard(chromium, live_url):
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()

    page.goto(f"http://localhost:{live_url}/")

    expect(page.get_by_role("link", name=f"http://lancome.localhost:{live_url}/")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "mall-home.png", full_page=True)
    context.close()
