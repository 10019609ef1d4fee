"""The guide sidebar in headless Chromium, signed in through WeCom OAuth on the simulator.

1. An ordinary browser in DEMO_MODE: /sidebar/ -> the simulator's authorize page -> my customers ->
   the demo bar (演示 Demo) stands in for the WeCom client: choose the current chat customer, their
   page opens, "发送 Send" puts the greeting into the demo chat log.
2. "Inside WeCom" (a wxwork user agent and a stand-in ``wx`` that checks the signatures the way
   WeCom does): wx.config + wx.agentConfig are signed with the simulator's tickets, getContext /
   getCurExternalContact open the chat's customer, sendChatMessage carries the text.
3. Inside WeCom in a customer group's chat (entry group_chat_tools): getCurExternalChat names the
   group, and only that group's task is sent into it.

Data is committed and set up before Playwright starts: its sync API runs an event loop, and Django
refuses ORM calls from a thread with a running loop. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.live import CHROMIUM, needs_chromium
from tests.sidebar_wecom.fixtures import (  # noqa: F401  (fixtures)
    guide_factory,
    platform_url,
    scanned,
    simulator,
    wecom,
    wecom_guide,
    world,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MOBILE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True,
          "device_scale_factor": 2, "locale": "zh-CN"}

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@pytest.fixture
def people(wecom_guide, scanned):  # noqa: F811
    """A guide with two customers who scanned their code (through the platform's real callback path)."""
    from members.models import Member, MemberExternalId

    guide = wecom_guide(name="陈小美")
    customers = {}
    for name in ("周可欣", "林小雨"):
        euid = scanned(guide, name)
        member = Member.objects.get(pk=MemberExternalId.objects.get(external_userid=euid).member_id)
        customers[name] = {"euid": euid, "code": member.code}
    return guide, customers


def _browser(playwright):
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])


def test_demo_bridge_opens_the_chat_customer_and_sends_a_greeting(platform_url, wecom, people):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    guide, customers = people
    star = customers["林小雨"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        context = browser.new_context(**MOBILE)
        page = context.new_page()

        page.goto(f"{platform_url}/sidebar/")
        expect(page).to_have_url(f"{wecom.base_url}/connect/oauth2/authorize?" + page.url.split("?", 1)[1])
        page.screenshot(path=ARTIFACTS / "sidebar-wecom-1-authorize.png")
        page.get_by_role("link", name=guide.name).click()

        expect(page).to_have_url(f"{platform_url}/sidebar/")
        expect(page.get_by_test_id("customer-list").locator("li")).to_have_count(2)
        bar = page.get_by_test_id("demo-bar")
        expect(bar).to_be_visible()
        expect(bar).to_contain_text("演示 Demo")
        expect(page.get_by_test_id("demo-entry")).to_have_text("single_chat_tools")
        page.screenshot(path=ARTIFACTS / "sidebar-wecom-2-customers-375.png")

        page.get_by_test_id("demo-current-chat").select_option(value=star["euid"])

        expect(page).to_have_url(f"{platform_url}/sidebar/customers/{star['code']}/")
        send = page.get_by_test_id("send-button")
        expect(send).to_be_enabled()
        expect(page.get_by_test_id("send-card")).to_contain_text("将发送到与该客户的聊天")
        send.click()
        log = page.get_by_test_id("demo-chat-log")
        expect(log).to_contain_text("林小雨您好！我是兰蔻的导购陈小美。")
        expect(page.get_by_test_id("send-card")).to_contain_text("已发送")
        page.screenshot(path=ARTIFACTS / "sidebar-wecom-3-sent-375.png")

        # back to the list: it does not bounce to the customer again, it says who the chat is with
        page.get_by_role("link", name="‹ 我的客户 My customers").click()
        expect(page).to_have_url(f"{platform_url}/sidebar/")
        expect(page.get_by_test_id("current-chat")).to_contain_text("林小雨")
        # a chat with someone who is not this guide's customer
        page.get_by_test_id("demo-current-chat").select_option(label="其他人（不是我的客户）· Someone else (not my customer)")
        expect(page.get_by_test_id("current-chat")).to_contain_text("不是您的会员客户")
        expect(page).to_have_url(f"{platform_url}/sidebar/")
        page.screenshot(path=ARTIFACTS / "sidebar-wecom-4-not-mine-375.png")
        context.close()

        # someone who is not a corp member is refused; in DEMO_MODE the picker is one tap away
        context = browser.new_context(**MOBILE)
        page = context.new_page()
        page.goto(f"{platform_url}/sidebar/")
        page.get_by_role("link", name="I am not a member (WeChat user)").click()
        expect(page.get_by_test_id("signin-refused")).to_contain_text("无法登录 · Cannot sign in")
        page.screenshot(path=ARTIFACTS / "sidebar-wecom-5-refused-375.png")
        page.get_by_role("link", name="演示：选择导购 Demo: pick a guide").click()
        expect(page.get_by_role("heading", name="选择导购 · Choose a guide")).to_be_visible()
        expect(page.get_by_test_id(f"pick-{guide.wecom_userid}")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "sidebar-wecom-6-login-375.png")
        context.close()
        browser.close()


# A stand-in for WeCom's jweixin: it checks both signatures against the tickets as WeCom would,
# then answers getContext / getCurExternalContact (or, in a group chat, getCurExternalChat) and records
# sendChatMessage.
FAKE_WX = """
(() => {
  const T = %(tickets)s;
  const calls = window.__wx = {config: null, agentConfig: null, invoked: [], errors: []};
  async function sha1(text) {
    const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, "0")).join("");
  }
  function expected(ticket, c) {
    const url = location.href.split("#")[0];
    return sha1(`jsapi_ticket=${ticket}&noncestr=${c.nonceStr}&timestamp=${c.timestamp}&url=${url}`);
  }
  let ready = [], failed = [];
  window.wx = {
    config(c) {
      calls.config = c;
      expected(T.jsapi, c).then(sig => sig === c.signature && c.appId === T.corpid
        ? ready.forEach(f => f()) : failed.forEach(f => f({errMsg: "config:invalid signature"})));
    },
    ready(f) { ready.push(f); },
    error(f) { failed.push(f); },
    agentConfig(c) {
      calls.agentConfig = c;
      expected(T.agent_config, c).then(sig => sig === c.signature && String(c.agentid) === T.agentid
        ? c.success({errMsg: "agentConfig:ok"}) : c.fail({errMsg: "agentConfig:invalid signature"}));
    },
    invoke(name, args, cb) {
      calls.invoked.push([name, args]);
      const answers = {
        getContext: {err_msg: "getContext:ok", entry: T.entry || "single_chat_tools"},
        getCurExternalContact: {err_msg: "getCurExternalContact:ok", userId: T.chat},
        getCurExternalChat: T.chat_id ? {err_msg: "getCurExternalChat:ok", chatId: T.chat_id}
                                      : {err_msg: "getCurExternalChat:fail without context of external chat"},
        sendChatMessage: {err_msg: "sendChatMessage:ok"},
      };
      setTimeout(() => cb(answers[name] || {err_msg: name + ":fail no permission"}), 10);
    },
  };
})();
"""


def test_inside_wecom_the_page_is_signed_and_uses_the_js_sdk(platform_url, wecom, people, settings):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    from wecom import jssdk

    guide, customers = people
    chat = customers["周可欣"]
    tickets = {"jsapi": jssdk.ticket_get("jsapi"), "agent_config": jssdk.ticket_get("agent_config"),
               "corpid": settings.WECOM_CORP_ID, "agentid": settings.WECOM_AGENT_ID, "chat": chat["euid"]}
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        context = browser.new_context(**MOBILE, user_agent="Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 "
                                      "Chrome/120.0 Mobile Safari/537.36 wxwork/4.1.22 MicroMessenger/7.0.1")
        context.add_init_script(FAKE_WX % {"tickets": json.dumps(tickets)})
        page = context.new_page()

        page.goto(f"{platform_url}/sidebar/")
        page.get_by_role("link", name=guide.name).click()  # the simulator's authorize page

        # opened in 周可欣's chat: the sidebar goes straight to her page
        expect(page).to_have_url(f"{platform_url}/sidebar/customers/{chat['code']}/")
        expect(page.get_by_test_id("send-button")).to_be_enabled()
        expect(page.get_by_test_id("demo-bar")).to_be_hidden()
        page.get_by_test_id("send-button").click()
        expect(page.get_by_test_id("send-card")).to_contain_text("已发送")

        wx = page.evaluate("window.__wx")
        assert wx["config"]["jsApiList"] == ["getContext", "getCurExternalContact", "getCurExternalChat",
                                             "sendChatMessage"]
        assert wx["agentConfig"]["agentid"] == settings.WECOM_AGENT_ID
        names = [name for name, _args in wx["invoked"]]
        assert names[:2] == ["getContext", "getCurExternalContact"] and names[-1] == "sendChatMessage"
        sent = wx["invoked"][-1][1]
        assert sent["msgtype"] == "text" and sent["text"]["content"].startswith("周可欣您好！")
        assert page.evaluate("document.querySelectorAll('script[src*=\"res.wx.qq.com\"]').length") == 0
        context.close()
        browser.close()
    assert len(wecom.calls(endpoint="get_jsapi_ticket")) == 1 and len(wecom.calls(endpoint="ticket/get")) == 1


WXWORK_UA = ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36 wxwork/4.1.22 "
             "MicroMessenger/7.0.1")


@pytest.fixture
def group_owner(wecom_guide):  # noqa: F811
    """A guide owning two customer groups, each with today's daily game (an HQ node made for the test)."""
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from guides.brand.models import CustomerGroup
    from tasks.community.models import GroupNode
    from tasks.community.services import group_tasks_generate

    guide = wecom_guide(name="陈小美")
    today = timezone.localdate()
    GroupNode.objects.create(title="每日群游戏 Daily group game", kind="daily_game", schedule="daily",
                             due_window_days=1, script="{group}今日小游戏：猜猜这款单品的价格！", starts_on=today,
                             optional=True)
    groups = {}
    with schema_context(guide.brand.schema_name):
        for n, name in enumerate(("兰蔻静安VIP群", "兰蔻新品体验群")):
            groups[name] = CustomerGroup.objects.create(
                chat_id=f"wr-wx-{guide.wecom_userid}-{n}", name=name, owner=guide, owner_userid=guide.wecom_userid,
                customer_count=3, member_count=4)
    group_tasks_generate(brand=guide.brand, day=today)
    return guide, groups


def test_inside_wecom_in_a_group_chat_the_group_task_goes_into_that_group(platform_url, wecom, group_owner,  # noqa: F811
                                                                          settings):
    from playwright.sync_api import expect, sync_playwright

    from wecom import jssdk

    guide, groups = group_owner
    chat_id = groups["兰蔻静安VIP群"].chat_id
    tickets = {"jsapi": jssdk.ticket_get("jsapi"), "agent_config": jssdk.ticket_get("agent_config"),
               "corpid": settings.WECOM_CORP_ID, "agentid": settings.WECOM_AGENT_ID, "entry": "group_chat_tools",
               "chat_id": chat_id}
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        context = browser.new_context(**MOBILE, user_agent=WXWORK_UA)
        context.add_init_script(FAKE_WX % {"tickets": json.dumps(tickets)})
        page = context.new_page()

        page.goto(f"{platform_url}/sidebar/")
        page.get_by_role("link", name=guide.name).click()  # the simulator's authorize page
        page.goto(f"{platform_url}/sidebar/today/")
        expect(page.locator("#sb")).to_have_attribute("data-bridge-ready", "1")
        ours = page.get_by_test_id("group-task").filter(has_text="猜猜这款单品").filter(has_text="兰蔻静安VIP群")
        other = page.get_by_test_id("group-task").filter(has_text="猜猜这款单品").filter(has_text="兰蔻新品体验群")

        expect(page.get_by_test_id("current-chat")).to_contain_text("兰蔻静安VIP群")
        expect(other.get_by_test_id("group-task-send-button")).to_be_disabled()
        ours.get_by_test_id("group-task-send-button").click()
        expect(ours.get_by_test_id("group-task-send")).to_contain_text("已发送")

        wx = page.evaluate("window.__wx")
        names = [name for name, _args in wx["invoked"]]
        assert names == ["getContext", "getCurExternalChat", "sendChatMessage"]
        sent = wx["invoked"][-1][1]
        assert sent == {"msgtype": "text", "text": {"content": "兰蔻静安VIP群今日小游戏：猜猜这款单品的价格！"}}
        ours.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "sidebar-wecom-7-group-chat-send-375.png")
        context.close()
        browser.close()


def test_demo_console_plays_a_customer_and_shows_the_callback_live(platform_url, wecom, wecom_guide):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    guide = wecom_guide(name="陈小美")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = context.new_page()

        page.goto(f"{platform_url}/sidebar/demo/")
        page.get_by_label("导购 Guide (WeCom userid)").select_option(value=guide.wecom_userid)
        page.get_by_label("顾客姓名 Customer name").fill("王小姐")
        page.get_by_test_id("scan-button").click()

        expect(page.locator(".msg-success")).to_contain_text("王小姐 扫码添加了 陈小美")
        expect(page.get_by_test_id("demo-customers")).to_contain_text("王小姐")
        row = page.get_by_test_id("events-table").locator("tbody tr").filter(has_text="王小姐").first
        expect(row).to_contain_text("add_external_contact", timeout=15000)
        expect(row).to_contain_text("已处理 Done", timeout=15000)
        expect(row.get_by_role("link", name="王小姐")).to_have_attribute("href", re.compile(r"/members/\d+/$"))
        welcome = page.get_by_test_id("deliveries-table").locator("tbody tr").filter(has_text="王小姐").first
        expect(welcome).to_contain_text("未配置欢迎语 Not configured")
        page.screenshot(path=ARTIFACTS / "sidebar-wecom-demo-console.png", full_page=True)
        context.close()
        browser.close()
