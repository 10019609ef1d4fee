"""gettoken, token errors, rate limits (45009), concurrency caps (45033) and forced errors."""

from __future__ import annotations

import threading

import pytest
from wechatpy.exceptions import APILimitedException, WeChatClientException

from .conftest import AGENT_SECRET, CONTACT_SECRET, CORP_ID


def gettoken(sim, secret, corpid=CORP_ID):
    return sim.http.get(sim.api_base + "gettoken", params={"corpid": corpid, "corpsecret": secret}).json()


def test_each_secret_has_its_own_token_kept_until_expiry(sim):
    first = gettoken(sim, CONTACT_SECRET)
    assert first["errcode"] == 0 and first["errmsg"] == "ok" and first["expires_in"] == 7200
    agent = gettoken(sim, AGENT_SECRET)
    assert agent["access_token"] != first["access_token"]
    sim.advance(3600)
    again = gettoken(sim, CONTACT_SECRET)
    assert again["access_token"] == first["access_token"] and again["expires_in"] == 3600
    sim.advance(3601)
    fresh = gettoken(sim, CONTACT_SECRET)
    assert fresh["access_token"] != first["access_token"] and fresh["expires_in"] == 7200


def test_token_error_codes(sim):
    assert gettoken(sim, "wrong")["errcode"] == 40001
    assert gettoken(sim, CONTACT_SECRET, corpid="wwother")["errcode"] == 40013
    assert "hint: [" in gettoken(sim, "wrong")["errmsg"]
    missing = sim.http.get(sim.api_base + "externalcontact/get_follow_user_list").json()
    assert missing["errcode"] == 41001
    assert sim.api("externalcontact/get_follow_user_list", token="nonsense")["errcode"] == 40014
    token = sim.token()
    assert sim.api("externalcontact/get_follow_user_list", token=token)["errcode"] == 0
    sim.advance(7200)
    assert sim.api("externalcontact/get_follow_user_list", token=token)["errcode"] == 42001


def test_tokens_can_be_invalidated_early(sim):
    token = sim.token()
    assert sim.ctl("tokens/invalidate", kind="contact")["invalidated"] == 1
    assert sim.api("externalcontact/get_follow_user_list", token=token)["errcode"] == 40014
    assert gettoken(sim, CONTACT_SECRET)["access_token"] != token


def test_wechatpy_client_refetches_after_expiry(sim, client):
    sim.member("guide1")
    assert client.external_contact.get_follow_user_list()["follow_user"] == ["guide1"]
    sim.advance(7300)
    assert client.external_contact.get_follow_user_list()["follow_user"] == ["guide1"]
    calls = sim.get("calls", endpoint="externalcontact/get_follow_user_list")["calls"]
    assert [c["errcode"] for c in calls] == [0, 42001, 0]
    assert len(sim.get("calls", endpoint="gettoken")["calls"]) == 2


def test_rate_limit_45009_per_api_per_minute(sim, client):
    sim.ctl("config", rate_limit_per_minute=5)
    sim.member("guide1")
    for _ in range(4):  # gettoken is counted on its own endpoint
        client.external_contact.get_follow_user_list()
    client.user.get("guide1")  # another API has its own budget
    client.external_contact.get_follow_user_list()
    with pytest.raises(APILimitedException) as exc:
        client.external_contact.get_follow_user_list()
    assert exc.value.errcode == 45009
    assert [c["endpoint"] for c in sim.get("calls", errcode=45009)["calls"]] == [
        "externalcontact/get_follow_user_list"]
    sim.advance(61)  # the minute is over
    client.external_contact.get_follow_user_list()


def test_forced_errors_next_n_calls(sim, client):
    sim.member("guide1")
    sim.ctl("fail", endpoint="externalcontact/get_follow_user_list", errcode=-1, count=2)
    for _ in range(2):
        with pytest.raises(WeChatClientException) as exc:
            client.external_contact.get_follow_user_list()
        assert exc.value.errcode == -1 and "系统繁忙" in exc.value.errmsg
    assert client.external_contact.get_follow_user_list()["errcode"] == 0
    # A forced 40014 makes wechatpy refetch the token and retry once.
    sim.ctl("fail", endpoint="user/get", errcode=40014, count=1)
    assert client.user.get("guide1")["userid"] == "guide1"
    assert sim.get("fail")["rules"] == []


def test_concurrency_cap_45033_on_remark(sim):
    sim.member("guide1")
    euid = sim.customer()
    sim.seed("guide1", [euid])
    sim.ctl("config", latency_ms={"externalcontact/remark": 300}, concurrency_limits={"externalcontact/remark": 2})
    token = sim.token()
    results = []

    def call():
        results.append(sim.api("externalcontact/remark", {"userid": "guide1", "external_userid": euid,
                                                          "remark": "VIP"}, token=token)["errcode"])

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 0, 45033, 45033, 45033]


def test_post_body_without_content_type_and_get_on_post_api(sim):
    sim.member("guide1")
    # sim.api() posts raw JSON bytes with no Content-Type, like wechatpy.
    assert sim.api("externalcontact/batch/get_by_user", {"userid_list": ["guide1"]})["errcode"] == 0
    assert sim.api("externalcontact/batch/get_by_user")["errcode"] == 40058  # GET on a POST API
    bad = sim.http.post(sim.api_base + "externalcontact/batch/get_by_user", params={"access_token": sim.token()},
                        data=b"{not json").json()
    assert bad["errcode"] == 47001


def test_every_call_is_recorded(sim):
    sim.api("externalcontact/get_follow_user_list")
    sim.api("externalcontact/get", external_userid="wmnope")
    calls = sim.get("calls")["calls"]
    assert [(c["endpoint"], c["errcode"]) for c in calls] == [
        ("gettoken", 0), ("externalcontact/get_follow_user_list", 0), ("externalcontact/get", 40096)]
    assert "access_token" not in calls[1]["query"]
