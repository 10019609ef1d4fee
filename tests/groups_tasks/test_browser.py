"""Group tasks in headless Chromium: the group owner sees "群任务 Group tasks" on today at the sidebar's width
(375px), sends a task's script into that group's chat with one tap (the demo stand-in for WeCom's
getCurExternalChat + sendChatMessage: only in that group's chat) and confirms one with a note; the brand manager
reads per-group activity on the groups page and tags a group; mall ops read the report across brands (a brand's
groups by name only once it shares its data in full). Data is committed before the browser starts (the served app
uses its own connections) and removed after, as in tests/browser/. Screenshots land in test-artifacts/ (git-ignored)."""

from __future__ import annotations

import datetime as dt
import threading
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
    """A Lancôme guide owning three groups (one created today, one with members at 100 days, one quiet), a
    colleague's group, a coupon drop for today, some joins, a leave and a purchase; tasks generated for today."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from guides.brand.models import CustomerGroup, CustomerGroupMember
    from guides.models import Guide
    from members.models import CouponTemplate
    from members.services import Identity, Profile, member_enroll, points_earn
    from tasks.community.models import GroupNode
    from tasks.community.services import group_tasks_generate
    from tenants.models import Brand, Counter, StaffRole, Store

    suffix = uuid.uuid4().hex[:8]
    brand = Brand.objects.get(slug="lancome")
    store = Store.objects.create(code=f"GT{suffix}", name="静安店 Jing'an", city="上海", address="南京西路1618号",
                                 latitude="31.229000", longitude="121.446000")
    counter = Counter.objects.create(brand=brand, store=store, code=f"GT-{suffix}", name="兰蔻静安专柜", floor="1F")
    guide = Guide.objects.create(wecom_userid=f"gt-guide-{suffix}", name="陈小美", brand=brand, counter=counter,
                                 hired_on=dt.date(2025, 3, 1))
    colleague = Guide.objects.create(wecom_userid=f"gt-colleague-{suffix}", name="李安妮", brand=brand,
                                     counter=counter, hired_on=dt.date(2025, 3, 1))
    manager = get_user_model().objects.create_user(username=f"gt-manager-{suffix}", password=PASSWORD)
    StaffRole.objects.create(user=manager, role="brand_manager", brand=brand)
    operator = get_user_model().objects.create_user(username=f"gt-operator-{suffix}", password=PASSWORD,
                                                    is_staff=True)
    StaffRole.objects.create(user=operator, role="mall_operator")
    now, today = timezone.now(), timezone.localdate()
    template = CouponTemplate.objects.create(name="群专属满300减30", kind="cash", value_cents=3000, valid_days=7)
    GroupNode.objects.create(
        title="群专属券 · Group-exclusive coupon drop", kind="coupon_drop", schedule="weekly",
        weekday=today.isoweekday(), due_window_days=2, coupon_template=template, optional=True, starts_on=today,
        reward_coins=20, reward_exp=20, script="【群专属福利】{group}限定券已上线，仅限本群成员领取～",
        guide_notes="在群里发专属券领取链接；有群成员领到券，任务自动完成。")

    def member(name):
        return member_enroll(brand=brand, identity=Identity(unionid=f"u-gt-{suffix}-{name}"),
                             profile=Profile(name=name)).member

    def group(owner, name, created, people, tags=()):
        with schema_context(brand.schema_name):
            g = CustomerGroup.objects.create(
                chat_id=f"wr-gt-{suffix}-{name}", name=name, owner=owner, owner_userid=owner.wecom_userid,
                store=store, created_at=created, customer_count=len(people), member_count=len(people) + 1,
                interest_tags=list(tags), notice="每周五专属券，周日抽奖")
            for n, (person, joined, left) in enumerate(people):
                CustomerGroupMember.objects.create(group=g, userid=f"wm-{g.pk}-{n}", type="external", member=person,
                                                   name=person.name if person else f"群友{n}", join_time=joined,
                                                   left_at=left)
        return g

    days = dt.timedelta(days=1)
    buyer = member("王芳")
    vip = group(guide, "兰蔻静安VIP群", now - 150 * days, [
        (member("周可欣"), now - 100 * days, None), (member("林小雨"), now - 100 * days, None),
        (buyer, now - 60 * days, None), (member("赵敏"), now - 2 * days, None),
        (member("孙丽"), now - 3 * days, None), (None, now - 30 * days, now - 1 * days)], tags=["skincare"])
    group(guide, "兰蔻新品体验群", now, [(member("钱多多"), now, None)])  # created today: the notice is due
    group(colleague, "兰蔻徐汇护肤群", now - 40 * days, [(member("吴倩"), now - 20 * days, None)])
    points_earn(member=buyer, amount=300, idempotency_key=f"gt-buy-{suffix}", brand=brand)
    group_tasks_generate(brand=brand, day=today)
    return {"guide": guide, "colleague": colleague, "manager": manager, "brand": brand, "vip_chat": vip.chat_id,
            "operator": operator}


def test_owner_and_manager_see_group_tasks(django_db_setup, django_db_blocker):
    with committed(django_db_blocker):
        world = _world()
        try:
            _drive(world)
        finally:
            from incentives.models import GuideBalance
            from tenants.models import Brand

            Brand.objects.filter(pk=world["brand"].pk).update(sharing_policy=world["brand"].sharing_policy)
            GuideBalance.objects.filter(guide_id__in=[world["guide"].pk, world["colleague"].pk]).delete()


def _drive(world):
    from playwright.sync_api import expect, sync_playwright

    from tenants.models import Brand

    with live_server() as base, sync_playwright() as playwright:
        ARTIFACTS.mkdir(exist_ok=True)
        port = base.rsplit(":", 1)[1]
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])

        # the group owner, in the WeCom sidebar (375px)
        page = browser.new_context(**MOBILE).new_page()
        page.goto(f"http://localhost:{port}/sidebar/login/")
        page.get_by_test_id(f"pick-{world['guide'].wecom_userid}").click()
        page.get_by_test_id("tab-today").click()
        section = page.get_by_test_id("group-tasks")
        cards = page.get_by_test_id("group-task")
        vip_game = cards.filter(has_text="每日群游戏").filter(has_text="兰蔻静安VIP群")
        other = cards.filter(has_text="兰蔻新品体验群").first
        expect(vip_game.get_by_test_id("group-task-send-button")).to_be_disabled()
        expect(vip_game.get_by_test_id("group-task-send")).to_contain_text("请在下方演示栏选择这个客户群")

        # the demo stand-in: the sidebar is now open in the VIP group's chat (WeCom's entry group_chat_tools)
        page.get_by_test_id("demo-current-chat").select_option(f"group:{world['vip_chat']}")
        expect(page.get_by_test_id("demo-entry")).to_have_text("group_chat_tools")
        expect(page.get_by_test_id("current-chat")).to_contain_text("兰蔻静安VIP群")
        expect(other.get_by_test_id("group-task-send-button")).to_be_disabled()
        expect(other.get_by_test_id("group-task-send")).to_contain_text("当前群聊不是这个群")
        script = vip_game.get_by_test_id("group-task-script").input_value()
        vip_game.get_by_test_id("group-task-send-button").click()
        expect(vip_game.get_by_test_id("group-task-send")).to_contain_text("已发送")
        log = page.get_by_test_id("demo-chat-log")
        expect(log).to_contain_text("群聊「兰蔻静安VIP群」")
        expect(log).to_contain_text(script)
        vip_game.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "group-tasks-0-sent-into-group-375.png")
        page.locator("[data-demo-toggle]").click()  # fold the demo chat bar: it would cover the cards
        expect(section).to_be_visible()
        expect(cards.first).to_be_visible()
        expect(page.get_by_text("兰蔻徐汇护肤群")).to_have_count(0)  # a colleague's group
        milestone = cards.filter(has_text="入群100天")
        expect(milestone.get_by_test_id("group-task-people")).to_contain_text("周可欣、林小雨")
        expect(milestone.get_by_test_id("group-task-script")).to_contain_text("恭喜周可欣、林小雨加入兰蔻静安VIP群满100天")
        expect(cards.filter(has_text="限定券已上线")).to_have_count(2)
        section.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "group-tasks-1-sidebar-today-375.png", full_page=True)
        milestone.screenshot(path=ARTIFACTS / "group-tasks-2-milestone-card-375.png")
        cards.filter(has_text="限定券已上线").first.screenshot(path=ARTIFACTS / "group-tasks-2-coupon-card-375.png")
        page.evaluate("window.scrollTo(0, document.getElementById('group-tasks').offsetTop - 130)")
        page.screenshot(path=ARTIFACTS / "group-tasks-2-sidebar-section-375.png")  # what the guide sees there

        before = cards.count()
        first = cards.filter(has_text="每日群游戏").first
        first.get_by_test_id("group-task-note").fill("猜价格，12人参与")
        first.get_by_test_id("group-task-done").click()
        expect(page.get_by_text("群任务已完成 ✓ Group task done")).to_be_visible()
        expect(page.get_by_test_id("group-task")).to_have_count(before - 1)
        page.screenshot(path=ARTIFACTS / "group-tasks-3-sidebar-after-done-375.png", full_page=True)

        # the brand manager, on the brand dashboard
        page = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN").new_page()
        dashboard = f"http://lancome.localhost:{port}"
        page.goto(f"{dashboard}/login/")
        page.get_by_label("用户名 Username").fill(world["manager"].username)
        page.get_by_label("密码 Password").fill(PASSWORD)
        page.get_by_role("button", name="登录 Sign in").click()
        page.goto(f"{dashboard}/groups/")
        row = page.locator("tr", has_text="兰蔻静安VIP群")
        expect(row.get_by_test_id("group-joined")).to_have_text("2")  # in the last 7 days
        expect(row.get_by_test_id("group-left")).to_have_text("1")
        expect(row.get_by_test_id("group-active")).to_have_text("3")  # two joined, one bought here
        expect(row.get_by_test_id("group-tags")).to_contain_text("护肤 Skincare")
        expect(page.get_by_test_id("group-nodes")).to_contain_text("群专属券")
        page.screenshot(path=ARTIFACTS / "group-tasks-4-dashboard-groups.png", full_page=True)

        page.get_by_role("link", name="兰蔻新品体验群").click()
        form = page.get_by_test_id("group-tags-form")
        form.get_by_label("母婴 Mother & baby").check()
        form.get_by_label("彩妆 Makeup").check()
        form.get_by_role("button", name="保存 Save").click()
        expect(page.get_by_text("已保存群标签")).to_be_visible()
        expect(page.get_by_test_id("group-tags")).to_contain_text("彩妆 Makeup")
        expect(page.get_by_test_id("group-task-table")).to_contain_text("发布群公告与群规")
        page.screenshot(path=ARTIFACTS / "group-tasks-5-dashboard-group-detail.png", full_page=True)

        # mall ops: group tasks across brands (Lancôme shares aggregates only: no group names)
        admin = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN").new_page()
        admin.goto(f"http://localhost:{port}/admin/login/")
        admin.locator("#id_username").fill(world["operator"].username)
        admin.locator("#id_password").fill(PASSWORD)
        admin.locator("input[type=submit]").click()
        admin.goto(f"http://localhost:{port}/admin/community/groupnode/")
        admin.get_by_test_id("group-report-link").click()
        lancome = admin.get_by_test_id("group-report-brand-lancome")
        expect(lancome).to_contain_text("仅共享汇总")
        expect(admin.get_by_test_id("group-report-kinds")).to_contain_text("群专属券")
        expect(admin.get_by_text("兰蔻静安VIP群")).to_have_count(0)
        admin.screenshot(path=ARTIFACTS / "group-tasks-6-admin-report.png", full_page=True)
        # once the brand shares its data in full, ops open its groups
        share = threading.Thread(  # the ORM refuses to run beside Playwright's event loop: another thread
            target=lambda: Brand.objects.filter(pk=world["brand"].pk).update(sharing_policy="full"))
        share.start()
        share.join()
        admin.reload()
        admin.get_by_test_id("group-report-open-lancome").click()
        expect(admin.get_by_test_id("group-report-groups")).to_contain_text("兰蔻静安VIP群")
        admin.screenshot(path=ARTIFACTS / "group-tasks-7-admin-report-groups.png", full_page=True)
        browser.close()
