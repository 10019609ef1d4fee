"""The DEMO_MODE page that plays customers through the simulator: scan, delete the guide, watch the
callbacks and welcome messages. Its calls to the simulator happen server-side, only in DEMO_MODE."""

import pytest
from django.test import Client

from wecom.models import CallbackEvent


@pytest.fixture
def page(wecom, platform_url):
    """The demo page as a person's browser sees it (the platform's callbacks arrive at platform_url)."""
    return Client(HTTP_HOST="localhost")


def test_the_page_lists_active_guides(page, wecom_guide):
    guide = wecom_guide(name="陈小美")

    response = page.get("/sidebar/demo/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "企微模拟演示" in body and "WeCom simulator demo" in body
    assert f'value="{guide.wecom_userid}"' in body and "陈小美" in body


def test_a_customer_scans_and_the_feed_shows_the_callback_and_the_welcome(page, wecom, wecom_guide):
    guide = wecom_guide(name="陈小美")

    response = page.post("/sidebar/demo/scan/", {"userid": guide.wecom_userid, "name": "王小姐",
                                                 "state": "demo:poster"}, follow=True)
    assert wecom.wait_deliveries(timeout=20)
    feed = page.get("/sidebar/demo/feed.json").json()

    body = response.content.decode()
    assert "王小姐 扫码添加了 陈小美" in body and "王小姐" in body
    euid = page.session["wecom_demo_customers"][0]["euid"]
    event = next(e for e in feed["events"] if e["customer"] == "王小姐")
    assert (event["change_type"], event["status"], event["guide"]) == ("add_external_contact", "done", "陈小美")
    assert event["member_url"] == f"http://lancome.localhost/members/{event['member_code']}/"
    delivery = next(d for d in feed["deliveries"] if d["member_code"] == event["member_code"])
    assert delivery["status"] == "not_configured" and delivery["guide"] == "陈小美"
    assert CallbackEvent.objects.get(external_userid=euid, change_type="add_external_contact").status == "done"
    assert wecom.get(f"customers/{euid}")["follows"][0]["state"] == "demo:poster"


def test_the_customer_deletes_the_guide(page, wecom, wecom_guide):
    guide = wecom_guide()
    page.post("/sidebar/demo/scan/", {"userid": guide.wecom_userid, "name": "王小姐", "state": "demo:counter"})
    euid = page.session["wecom_demo_customers"][0]["euid"]

    response = page.post("/sidebar/demo/delete-guide/", {"external_userid": euid}, follow=True)
    assert wecom.wait_deliveries(timeout=20)

    assert "删除了导购" in response.content.decode()
    ended = CallbackEvent.objects.get(external_userid=euid, change_type="del_follow_user")
    assert (ended.status, ended.result) == ("done", "relationship ended (deleted_by_customer)")


@pytest.mark.parametrize("form, message", [
    ({"userid": "nobody", "name": "王小姐"}, "请选择一位在职导购"),
    ({"name": ""}, "请填写顾客姓名"),
    ({"name": "王小姐", "state": "x" * 31}, "渠道最多30个"),
])
def test_bad_input_is_explained_and_nothing_is_sent(page, wecom, wecom_guide, form, message):
    guide = wecom_guide()

    response = page.post("/sidebar/demo/scan/", {"userid": guide.wecom_userid, **form}, follow=True)

    assert message in response.content.decode()
    assert wecom.get("customers")["total"] == 0


def test_only_customers_played_here_can_be_driven(page, wecom, wecom_guide):
    wecom_guide()
    someone = wecom.customer("别人的顾客")

    response = page.post("/sidebar/demo/delete-guide/", {"external_userid": someone}, follow=True)

    assert "未知的演示顾客" in response.content.decode()


def test_without_demo_mode_everything_is_404(page, wecom, wecom_guide, settings):
    guide = wecom_guide()
    settings.DEMO_MODE = False

    answers = [page.get("/sidebar/demo/"), page.get("/sidebar/demo/feed.json"),
               page.post("/sidebar/demo/scan/", {"userid": guide.wecom_userid, "name": "王小姐"}),
               page.post("/sidebar/demo/delete-guide/", {"external_userid": "wm"})]

    assert [a.status_code for a in answers] == [404] * 4
    assert wecom.get("customers")["total"] == 0 and wecom.calls() == []
