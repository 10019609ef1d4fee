"""Customers adding guides -> encrypted callbacks (decrypted by wechatpy), delivery retries, welcome codes."""

from __future__ import annotations

import pytest
from wechatpy.exceptions import WeChatClientException

from .conftest import AGENT_ID, CORP_ID


@pytest.fixture
def way(sim, client):
    sim.member("g1")
    return client.external_contact.add_contact_way(1, 2, state="mall-poster", user=["g1"])["config_id"]


def test_scan_sends_add_external_contact_with_state_and_welcome_code(sim, receiver, way):
    euid = sim.customer("王五")
    result = sim.ctl(f"customers/{euid}/scan", config_id=way)
    sim.wait()
    (event,) = receiver.of("add_external_contact")
    assert event["ToUserName"] == CORP_ID and event["FromUserName"] == "sys" and event["MsgType"] == "event"
    assert event["Event"] == "change_external_contact" and event["CreateTime"] == "1750000000"
    assert event["UserID"] == "g1" and event["ExternalUserID"] == euid and event["State"] == "mall-poster"
    assert event["WelcomeCode"] == result["welcome_code"]
    assert "<CreateTime>1750000000</CreateTime>" in event["_xml"]
    request = receiver.requests[-1]
    assert f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID>" in request["body"]
    assert set(request["query"]) == {"msg_signature", "timestamp", "nonce"}
    delivery = sim.get("deliveries")["deliveries"][-1]
    assert delivery["status"] == "delivered" and delivery["attempts"][0]["status"] == 200


def test_rewritten_state_and_member_events(sim, receiver, way):
    euid = sim.customer()
    sim.ctl(f"customers/{euid}/scan", config_id=way, state="wb:1:abcdef")
    sim.ctl("members/g1/resign")
    sim.wait()
    assert receiver.of("add_external_contact")[0]["State"] == "wb:1:abcdef"
    kinds = [(e["Event"], e["ChangeType"]) for e in receiver.events]
    assert ("change_contact", "delete_user") in kinds
    assert receiver.of("delete_user")[0]["UserID"] == "g1"


def test_welcome_code_20_seconds_single_use(sim, client, receiver, way):
    a, b = sim.customer("甲"), sim.customer("乙")
    code_a = sim.ctl(f"customers/{a}/scan", config_id=way)["welcome_code"]
    code_b = sim.ctl(f"customers/{b}/scan", config_id=way)["welcome_code"]
    sim.advance(19)
    msg = {"welcome_code": code_a, "text": {"content": "欢迎光临 🎉"},
           "attachments": [{"msgtype": "link", "link": {"title": "新人券", "url": "https://mall.example/c/1"}}]}
    client.external_contact.send_welcome_msg(msg)
    with pytest.raises(WeChatClientException) as exc:
        client.external_contact.send_welcome_msg(msg)
    assert exc.value.errcode == 41051  # used
    sim.advance(2)  # code_b is now 21 s old
    with pytest.raises(WeChatClientException) as exc:
        client.external_contact.send_welcome_msg({"welcome_code": code_b, "text": {"content": "hi"}})
    assert exc.value.errcode == 41050
    with pytest.raises(WeChatClientException) as exc:
        client.external_contact.send_welcome_msg({"welcome_code": "nonsense", "text": {"content": "hi"}})
    assert exc.value.errcode == 41050
    (sent,) = sim.get("welcome_messages", external_userid=a)["welcome_messages"]
    assert sent["text"] == {"content": "欢迎光临 🎉"} and sent["userid"] == "g1"
    assert sent["attachments"][0]["link"]["title"] == "新人券" and sent["delay_seconds"] == 19
    assert sim.get("welcome_messages", external_userid=b)["welcome_messages"] == []


def test_welcome_message_validation(sim, client, way):
    euid = sim.customer()
    code = sim.ctl(f"customers/{euid}/scan", config_id=way)["welcome_code"]
    send = "externalcontact/send_welcome_msg"
    image = {"msgtype": "image", "image": {"media_id": "MEDIA"}}
    assert sim.api(send, {"text": {"content": "x"}})["errcode"] == 41049
    assert sim.api(send, {"welcome_code": code, "attachments": [image] * 10})["errcode"] == 41064
    assert sim.api(send, {"welcome_code": code, "attachments": [{"msgtype": "music", "music": {}}]})["errcode"] == 41065
    assert sim.api(send, {"welcome_code": code, "text": {"content": "字" * 1334}})["errcode"] == 40058  # 4002 bytes
    assert sim.api(send, {"welcome_code": code})["errcode"] == 40058
    assert sim.api(send, {"welcome_code": code, "text": {"content": "x"}, "attachments": [image] * 9})["errcode"] == 0


def test_chatting_blocks_welcome_and_later_codes_are_omitted(sim, client, receiver, way):
    euid = sim.customer()
    code = sim.ctl(f"customers/{euid}/scan", config_id=way)["welcome_code"]
    sim.ctl(f"customers/{euid}/chat", userid="g1")
    with pytest.raises(WeChatClientException) as exc:
        client.external_contact.send_welcome_msg({"welcome_code": code, "text": {"content": "hi"}})
    assert exc.value.errcode == 41051
    sim.ctl(f"customers/{euid}/delete_member", userid="g1")
    again = sim.ctl(f"customers/{euid}/scan", config_id=way)
    assert again["welcome_code"] is None
    sim.wait()
    changes = [e["ChangeType"] for e in receiver.events if e["Event"] == "change_external_contact"]
    assert changes == ["add_external_contact", "del_follow_user", "add_external_contact"]
    assert "WelcomeCode" not in receiver.of("add_external_contact")[1]
    assert "<WelcomeCode>" not in receiver.of("add_external_contact")[1]["_xml"]


def test_relationship_events(sim, client, receiver, way):
    euid = sim.customer()
    sim.ctl(f"customers/{euid}/scan", config_id=way)
    assert sim.ctl(f"customers/{euid}/scan", config_id=way)["already_friend"] is True  # no second event
    sim.ctl(f"customers/{euid}/delete_member", userid="g1")
    # one-way relationship: the member still sees the customer (DOC 84061 note)
    assert client.external_contact.list("g1")["external_userid"] == [euid]
    sim.ctl("members/g1/delete_customer", external_userid=euid)
    assert sim.api("externalcontact/list", userid="g1")["errcode"] == 84061
    half = sim.ctl(f"customers/{euid}/scan", userid="g1", state="s", half=True)
    assert sim.api("externalcontact/get", external_userid=euid)["errcode"] == 84061  # not yet a friend
    client.external_contact.send_welcome_msg({"welcome_code": half["welcome_code"], "text": {"content": "hi"}})
    confirmed = sim.ctl("members/g1/confirm_customer", external_userid=euid)
    assert confirmed["welcome_code"] is None  # the half code was used
    sim.ctl("members/g1/edit_customer", external_userid=euid, remark="老客")
    sim.wait()
    changes = [e["ChangeType"] for e in receiver.events if e["Event"] == "change_external_contact"]
    assert changes == ["add_external_contact", "del_follow_user", "del_external_contact", "add_half_external_contact",
                       "add_external_contact", "edit_external_contact"]
    assert receiver.of("add_half_external_contact")[0]["WelcomeCode"] == half["welcome_code"]
    assert client.external_contact.get(euid)["follow_user"][0]["remark"] == "老客"


def test_retry_payload_identical_and_success_after_failures(sim, receiver):
    sim.member("g1")
    sim.wait()
    receiver.requests.clear()
    receiver.events.clear()
    receiver.statuses = [500, 503, 500]
    euid = sim.customer()
    sim.ctl(f"customers/{euid}/scan", userid="g1", state="x")
    sim.wait()
    assert [r["status"] for r in receiver.requests] == [500, 503, 500, 200]
    assert len({r["body"] for r in receiver.requests}) == 1
    assert len({tuple(sorted(r["query"].items())) for r in receiver.requests}) == 1
    assert len(receiver.events) == 1 and receiver.events[0]["CreateTime"] == "1750000000"
    (delivery,) = sim.get("deliveries", since_id=1)["deliveries"]
    assert delivery["status"] == "delivered" and len(delivery["attempts"]) == 4


def test_give_up_after_three_retries(sim, receiver):
    sim.member("g1")
    sim.wait()
    receiver.requests.clear()
    receiver.statuses = [500] * 10
    euid = sim.customer()
    sim.ctl(f"customers/{euid}/scan", userid="g1")
    sim.wait()
    assert len(receiver.requests) == 4  # 1 try + 3 retries
    delivery = sim.get("deliveries", status="failed")["deliveries"][0]
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 500, 500]


def test_slow_receiver_counts_as_failure_then_retried(sim, receiver):
    sim.ctl("config", callback_timeout=0.3)
    sim.member("g1")
    sim.wait()
    receiver.requests.clear()
    receiver.events.clear()
    receiver.delays = [0.6]
    euid = sim.customer()
    sim.ctl(f"customers/{euid}/scan", userid="g1")
    sim.wait()
    (delivery,) = sim.get("deliveries", since_id=1)["deliveries"]
    first, second = delivery["attempts"]
    assert first["status"] is None and "timeout" in first["error"] and first["duration_ms"] >= 250
    assert second["status"] == 200 and delivery["status"] == "delivered"
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]


def test_no_callback_url_means_recorded_only(sim, way):
    euid = sim.customer()
    sim.ctl(f"customers/{euid}/scan", config_id=way)
    sim.wait()
    delivery = sim.get("deliveries")["deliveries"][-1]
    assert delivery["status"] == "skipped" and "<ChangeType><![CDATA[add_external_contact]]>" in delivery["xml"]


def test_url_verification_against_the_receiver(sim, receiver):
    result = sim.ctl("callbacks/verify_url")
    assert result["ok"] and result["status"] == 200 and result["body"] == result["expected"]


def test_raw_event_injection(sim, receiver):
    sim.ctl("callbacks/send", event={"Event": "change_external_contact", "ChangeType": "transfer_fail",
                                     "FailReason": "customer_refused", "UserID": "g9", "ExternalUserID": "wmX"})
    sim.wait()
    assert receiver.events[-1]["FailReason"] == "customer_refused"
