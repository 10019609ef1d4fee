"""The what-if preview in headless Chromium: a brand manager previews a new node (table + bar chart, lifecycle and
event-trigger tasks) and confirms it, then previews a change to that node and saves it; mall ops edit an HQ draft in the admin, preview it across brands and see the completion report; the demo
console fast-forwards a day. Screenshots in test-artifacts/.

Data is committed (the served app uses its own connections) and set up before Playwright starts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from tests.live import CHROMIUM, committed, live_server, needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "preview-pass-123"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


def _world():
    """Three guides of Lancôme with 45 customers added over the last five weeks (five with a birthday in the next
    four weeks), the engine run for today, a brand manager, a mall operator and an HQ draft with a day-3 node."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from guides.models import Guide
    from guides.services import relationship_record
    from members.services import Identity, Profile, member_enroll
    from tasks.engine import generate
    from tasks.mall.programs import program_draft_create
    from tenants.models import Brand, Counter, StaffRole, Store

    suffix = uuid.uuid4().hex[:8]
    brand = Brand.objects.get(slug="lancome")
    store = Store.objects.create(code=f"TP{suffix}", name="静安店 Jing'an", city="上海", address="南京西路1618号",
                                 latitude="31.229000", longitude="121.446000")
    counter = Counter.objects.create(brand=brand, store=store, code=f"TP-{suffix}", name="兰蔻静安专柜", floor="1F")
    guides = [Guide.objects.create(wecom_userid=f"tp-{suffix}-{n}", name=name, brand=brand, counter=counter,
                                   hired_on=dt.date(2025, 3, 1)) for n, name in enumerate(("陈小美", "李娜", "王芳"))]
    now, today = timezone.now(), timezone.localdate()
    for n in range(45):
        birthday = (today + dt.timedelta(days=5 + 4 * n)).replace(year=1992) if n < 5 else None
        member = member_enroll(brand=brand, guide=guides[n % 3], channel="qr:counter",
                               identity=Identity(unionid=f"u-tp-{suffix}-{n}"),
                               profile=Profile(name=f"顾客{n}", birthday=birthday)).member
        relationship_record(guide=guides[n % 3], member=member, channel="qr:counter",
                            added_at=now - dt.timedelta(days=(n * 7) % 34, hours=n % 5))
    generate(brand=brand, day=timezone.localdate())
    users = get_user_model().objects
    manager = users.create_user(f"tp-manager-{suffix}", password=PASSWORD)
    StaffRole.objects.create(user=manager, role="brand_manager", brand=brand)
    operator = users.create_user(f"tp-operator-{suffix}", password=PASSWORD, is_staff=True)
    StaffRole.objects.create(user=operator, role="mall_operator")
    draft = program_draft_create(actor="test")
    draft.nodes.create(key="d3", day_offset=3, task_type="care", title="3天关怀回访",
                       script="{name}您好，产品用了几天感觉如何？", due_window_days=2, reward_coins=5, reward_exp=5,
                       optional=True)
    return {"manager": manager.username, "operator": operator.username, "draft": draft.pk, "brand": brand.pk}


def test_preview_pages_in_a_browser(django_db_setup, django_db_blocker):
    with committed(django_db_blocker):
        world = _world()
        _drive(world)


def _drive(world):
    from playwright.sync_api import expect, sync_playwright

    with live_server() as base, sync_playwright() as playwright:
        ARTIFACTS.mkdir(exist_ok=True)
        port = base.rsplit(":", 1)[1]
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])

        # the brand manager previews a new node, then adds it
        page = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN").new_page()
        dashboard = f"http://lancome.localhost:{port}"
        page.goto(f"{dashboard}/login/")
        page.get_by_label("用户名 Username").fill(world["manager"])
        page.get_by_label("密码 Password").fill(PASSWORD)
        page.get_by_role("button", name="登录 Sign in").click()
        page.goto(f"{dashboard}/tasks/")
        form = page.get_by_test_id("brand-node-form")
        form.get_by_label("第几天 Day offset").fill("3")
        form.get_by_label("标题 Title").fill("3天试用回访")
        form.get_by_label("话术 Script").fill("{name}您好，试用装用得如何？")
        form.get_by_label("完成期限(天) Due window (days)").fill("2")
        page.get_by_test_id("brand-node-preview").click()
        expect(page.get_by_test_id("preview-table")).to_be_visible()
        expect(page.get_by_test_id("preview-table").locator("tbody tr")).to_have_count(28)
        expect(page.locator("svg rect.tp-bar")).to_have_count(28)
        assert int(page.get_by_test_id("preview-total").inner_text()) > 0
        expect(page.get_by_test_id("preview-counts")).to_contain_text("生日前N天 Birthday (N days before) 5")
        assert page.locator("svg rect.tp-trig").count() >= 5  # a birthday reminder on five days, and other triggers
        page.screenshot(path=ARTIFACTS / "task-preview-brand.png", full_page=True)
        page.get_by_test_id("preview-confirm").click()
        expect(page.get_by_text("已添加节点 · Node added: D3 3天试用回访")).to_be_visible()

        # ... and changes it: day 3 -> day 5, previewed before it is saved
        page.get_by_test_id("brand-nodes").get_by_role("link", name="修改 Edit").click()
        expect(page.get_by_test_id("preview-change")).to_have_text("0")  # as it is
        form = page.get_by_test_id("preview-form")
        form.get_by_label("第几天 Day offset").fill("5")
        page.get_by_test_id("preview-again").click()
        expect(page.get_by_role("heading", name="修改预览")).to_be_visible()
        expect(page.get_by_test_id("preview-table").locator("tbody tr")).to_have_count(28)
        page.screenshot(path=ARTIFACTS / "task-preview-brand-edit.png", full_page=True)
        page.get_by_test_id("preview-confirm").click()
        expect(page.get_by_text("已保存节点 · Node saved: D5 3天试用回访")).to_be_visible()
        page.locator("#completion").scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "task-rates-brand.png", full_page=True)

        # mall ops: the draft's editor, its preview across brands, the completion report
        admin = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN").new_page()
        admin.goto(f"http://localhost:{port}/admin/login/")
        admin.locator("#id_username").fill(world["operator"])
        admin.locator("#id_password").fill(PASSWORD)
        admin.locator("input[type=submit]").click()
        admin.goto(f"http://localhost:{port}/admin/tasks_mall/programversion/{world['draft']}/change/")
        expect(admin.get_by_test_id("version-note")).to_contain_text("草稿")
        expect(admin.locator("input[name$='-key'][value='d3']")).to_have_count(1)
        admin.screenshot(path=ARTIFACTS / "admin-program-editor.png", full_page=True)
        admin.get_by_test_id("version-preview").click()
        expect(admin.get_by_test_id("mall-preview-brands")).to_contain_text("兰蔻")
        admin.screenshot(path=ARTIFACTS / "admin-program-preview.png", full_page=True)
        admin.goto(f"http://localhost:{port}/admin/tasks_mall/programversion/completion/")
        expect(admin.get_by_test_id("completion-table")).to_contain_text("兰蔻")
        admin.screenshot(path=ARTIFACTS / "admin-task-completion.png", full_page=True)

        # the demo console moves the brand one day on
        demo = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN").new_page()
        demo.goto(f"http://localhost:{port}/sidebar/demo/")
        demo.locator("#ff-brand").select_option(value=str(world["brand"]))
        demo.get_by_test_id("fast-forward-1").click()
        expect(demo.get_by_text("已快进1天")).to_be_visible()
        demo.screenshot(path=ARTIFACTS / "demo-fast-forward.png", full_page=True)
        browser.close()
