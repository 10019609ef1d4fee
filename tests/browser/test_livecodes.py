"""A brand manager creates a channel live code in headless Chromium, downloads its QR image, a customer
scans it in the WeCom simulator, and the manager sees the add in the live code's and the channel's
statistics; then a group live code on the 客户群 page.

Everything runs over real HTTP: the platform on loopback, the simulator calling back into it. ORM
calls happen only before Playwright starts (its sync API runs an event loop, and Django refuses ORM
calls from such a thread); the simulator is driven over HTTP. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import guide_factory, platform_url, simulator, world  # noqa: F401  (fixtures)
from tests.live import CHROMIUM, needs_chromium
from tests.wecom_sync.conftest import drain, wecom_guide  # noqa: F401  (fixtures)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "ui-pass-12345"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@pytest.fixture
def manager(wecom_guide):  # noqa: F811
    from django.contrib.auth import get_user_model

    from tenants.models import StaffRole

    guide = wecom_guide(name="陈小美")
    user = get_user_model().objects.create_user(username=f"lc-ui-{guide.pk}", password=PASSWORD)
    StaffRole.objects.create(user=user, role="brand_manager", brand=guide.brand)
    return user, guide


def _browser(playwright):
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("用户名 Username").fill(username)
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()


def test_manager_creates_a_live_code_and_sees_a_scan_in_its_statistics(simulator, platform_url, manager,  # noqa: F811
                                                                     drain):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    user, guide = manager
    port = platform_url.rsplit(":", 1)[1]
    base = f"http://{guide.brand.slug}.localhost:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    customer = simulator.customer("林小雨")

    with sync_playwright() as playwright:
        browser = _browser(playwright)
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN", accept_downloads=True)
        page = context.new_page()
        _sign_in(page, base, user.username)
        page.get_by_role("link", name="活码 Live codes").click()
        expect(page.get_by_role("heading", name="渠道活码 · Live codes")).to_be_visible()

        form = page.get_by_test_id("livecode-form")
        form.get_by_label("导购 Guide").select_option(label=str(guide))
        form.get_by_label("渠道类型 Channel kind").select_option("counter")
        form.get_by_label("名称 Name").fill("静安柜台海报")
        form.get_by_label("渠道码 Channel code (State)").fill("counter-jingan-poster-2026-winter")  # 33 characters
        form.get_by_role("button", name="创建 Create").click()
        expect(page.get_by_test_id("livecode-form").get_by_role("alert")).to_contain_text("30")
        page.screenshot(path=ARTIFACTS / "livecodes-1-state-too-long.png", full_page=True)

        page.get_by_test_id("livecode-form").get_by_label("渠道码 Channel code (State)").fill("counter-jingan")
        page.get_by_test_id("livecode-form").get_by_role("button", name="创建 Create").click()
        expect(page.get_by_text("已创建活码 · Live code created: 静安柜台海报 (counter-jingan)")).to_be_visible()
        row = page.get_by_test_id("livecode-table").locator("tbody tr").first
        expect(row).to_contain_text("counter-jingan")
        expect(row).to_contain_text("柜台海报 Counter poster")

        with page.expect_download() as download_info:
            row.get_by_role("link", name="下载二维码 QR").click()
        download = download_info.value
        qr_bytes = Path(download.path()).read_bytes()
        suggested = download.suggested_filename

        config_id = simulator.get("contact_ways")["contact_ways"][0]["config_id"]
        simulator.scan(customer, config_id=config_id)
        drain()

        page.reload()
        row = page.get_by_test_id("livecode-table").locator("tbody tr").first
        expect(row.get_by_test_id("livecode-adds")).to_have_text("1")
        expect(row.get_by_test_id("livecode-active")).to_have_text("1")
        expect(row.get_by_test_id("livecode-net")).to_have_text("1")
        totals = page.get_by_test_id("channel-totals").locator("tbody tr")
        expect(totals.first).to_contain_text("counter-jingan")
        expect(totals.last.locator("th")).to_have_text(["合计 Total", "1", "0", "1"])
        expect(page.get_by_test_id("channel-daily").locator("tbody tr").first).to_contain_text("+1 / −0 / 1")
        page.screenshot(path=ARTIFACTS / "livecodes-2-after-scan.png", full_page=True)
        context.close()
        browser.close()

    assert qr_bytes.startswith(b"\x89PNG") and suggested.endswith(".png")


def test_manager_creates_a_group_live_code_for_a_store_group(simulator, platform_url, manager, drain):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    user, guide = manager
    simulator.groupchat(guide.wecom_userid, name="静安店会员群", members=[simulator.customer("周可欣")])
    drain()
    joiner = simulator.customer("吴倩")
    store_name = guide.counter.store.name
    port = platform_url.rsplit(":", 1)[1]
    base = f"http://{guide.brand.slug}.localhost:{port}"
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = _browser(playwright)
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
        page = context.new_page()
        _sign_in(page, base, user.username)
        page.get_by_role("link", name="客户群 Groups").click()
        expect(page.get_by_test_id("group-table")).to_contain_text("静安店会员群")

        form = page.get_by_test_id("group-livecode-form")
        form.get_by_label("名称 Name").fill("静安店群码")
        form.get_by_label("范围 Scope").select_option("store")
        form.get_by_label("门店 Store").select_option(label=store_name)
        form.get_by_label("静安店会员群").check()
        form.get_by_label("渠道码 Channel code (State)").fill("store-jingan")
        form.get_by_role("button", name="创建 Create").click()

        expect(page.get_by_text("已创建群活码 · Group live code created: 静安店群码")).to_be_visible()
        codes = page.get_by_test_id("group-livecode-table")
        expect(codes).to_contain_text("门店群 Store community")
        expect(codes).to_contain_text(store_name)
        page.screenshot(path=ARTIFACTS / "groups-1-join-code.png", full_page=True)
        simulator.join_group(joiner, config_id=simulator.get("join_ways")["join_ways"][0]["config_id"])
        drain()
        page.reload()
        row = page.get_by_test_id("group-livecode-table").locator("tbody tr").first
        expect(row.get_by_test_id("join-joined")).to_have_text("1")  # joined through the code
        expect(row.get_by_test_id("join-still")).to_have_text("1")  # still in the group
        page.screenshot(path=ARTIFACTS / "groups-2-after-join.png", full_page=True)
        context.close()
        browser.close()

    way = simulator.get("join_ways")["join_ways"][0]
    assert (way["state"], way["scene"], len(way["chat_id_list"])) == ("store-jingan", 2, 1)
