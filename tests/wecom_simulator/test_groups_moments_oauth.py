"""Customer groups and join ways, moments, OAuth2 and JS-SDK tickets."""

from __future__ import annotations

import urllib.parse

import pytest
from wechatpy.exceptions import WeChatClientException


def test_group_chat_lifecycle_and_events(sim, client, receiver):
    sim.member("owner")
    a, b = sim.customer("甲"), sim.customer("乙")
    chat = sim.ctl("groupchats", owner="owner", name="VIP群", members=[a])["groupchat"]
    chat_id = chat["chat_id"]
    assert chat_id.startswith("wr")
    join_way = sim.api("externalcontact/groupchat/add_join_way",
                       {"scene": 2, "chat_id_list": [chat_id], "state": "group-poster"})["config_id"]
    got = sim.api("externalcontact/groupchat/get_join_way", {"config_id": join_way})["join_way"]
    assert got["chat_id_list"] == [chat_id] and got["state"] == "group-poster" and got["qr_code"].endswith(".png")
    v0 = sim.api("externalcontact/groupchat/get", {"chat_id": chat_id})["group_chat"]["member_version"]
    sim.ctl(f"customers/{b}/join_group", config_id=join_way)
    sim.ctl(f"customers/{a}/leave_group", chat_id=chat_id)
    sim.ctl(f"groupchats/{chat_id}/update", name="VIP二群")
    detail = sim.api("externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": 1})["group_chat"]
    members = {m["userid"]: m for m in detail["member_list"]}
    assert set(members) == {"owner", b} and members[b]["type"] == 2 and members[b]["join_scene"] == 3
    assert members[b]["state"] == "group-poster" and members[b]["name"] == "乙" and detail["name"] == "VIP二群"
    sim.ctl(f"groupchats/{chat_id}/dismiss")
    assert sim.api("externalcontact/groupchat/get", {"chat_id": chat_id})["errcode"] == 49008
    sim.wait()
    chat_events = [e for e in receiver.events if e["Event"] == "change_external_chat"]
    assert [(e["ChangeType"], e.get("UpdateDetail")) for e in chat_events] == [
        ("create", None), ("update", "add_member"), ("update", "del_member"), ("update", "change_name"),
        ("dismiss", None)]
    add, leave = chat_events[1], chat_events[2]
    assert add["JoinScene"] == "3" and add["MemChangeCnt"] == "1" and add["MemChangeList"] == [b]
    assert add["LastMemVer"] == v0 and add["CurMemVer"] == leave["LastMemVer"] != v0
    assert leave["QuitScene"] == "0" and leave["MemChangeList"] == [a]
    assert leave["CurMemVer"] == detail["member_version"]


def test_join_way_validation(sim):
    sim.member("owner")
    chats = [sim.ctl("groupchats", owner="owner", name=f"g{i}")["groupchat"]["chat_id"] for i in range(6)]
    api = "externalcontact/groupchat/add_join_way"
    assert sim.api(api, {"scene": 2, "chat_id_list": chats})["errcode"] == 41091
    assert sim.api(api, {"scene": 2, "chat_id_list": chats[:1], "state": "x" * 31})["errcode"] == 40058
    assert sim.api(api, {"scene": 2, "chat_id_list": ["wrnope"]})["errcode"] == 40050
    config_id = sim.api(api, {"scene": 2, "chat_id_list": chats[:2], "remark": "r" * 40})["config_id"]
    assert len(sim.api("externalcontact/groupchat/get_join_way", {"config_id": config_id})["join_way"]["remark"]) == 30
    assert sim.api("externalcontact/groupchat/update_join_way",
                   {"config_id": config_id, "scene": 1, "chat_id_list": chats[2:4]})["errcode"] == 0
    assert sim.api("externalcontact/groupchat/del_join_way", {"config_id": config_id})["errcode"] == 0
    assert sim.api("externalcontact/groupchat/get_join_way", {"config_id": config_id})["errcode"] == 41044


def test_groupchat_list_filters_cursor_and_transfers(sim, client):
    sim.member("old")
    sim.member("new")
    sim.member("other")
    old_chats = [sim.ctl("groupchats", owner="old", name=f"o{i}")["groupchat"]["chat_id"] for i in range(3)]
    other_chat = sim.ctl("groupchats", owner="other", name="x")["groupchat"]["chat_id"]
    assert sim.api("externalcontact/groupchat/list", {"status_filter": 0})["errcode"] == 40058  # limit required
    ids, cursor = [], ""
    while True:
        page = sim.api("externalcontact/groupchat/list", {"limit": 2, "cursor": cursor})
        ids += [c["chat_id"] for c in page["group_chat_list"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert ids == old_chats + [other_chat]
    # resigned transfer needs a resigned owner
    failed = sim.api("externalcontact/groupchat/transfer", {"chat_id_list": old_chats, "new_owner": "new"})
    assert {f["errcode"] for f in failed["failed_chat_list"]} == {90500}
    assert failed["failed_chat_list"][0]["errmsg"] == "群主并未离职"
    sim.ctl("members/old/resign")
    listed = sim.api("externalcontact/groupchat/list", {"limit": 10, "status_filter": 1})["group_chat_list"]
    assert [c["chat_id"] for c in listed] == old_chats
    ok = sim.api("externalcontact/groupchat/transfer", {"chat_id_list": old_chats + ["wrbogus"], "new_owner": "new"})
    assert ok["failed_chat_list"] == [{"chat_id": "wrbogus", "errcode": 90501, "errmsg": "该群不是客户群"}]
    owned = sim.api("externalcontact/groupchat/list", {"limit": 10, "owner_filter": {"userid_list": ["new"]}})
    assert [c["status"] for c in owned["group_chat_list"]] == [3, 3, 3]
    # on-job: owner must not have resigned, new owner differs, ≤ 2 per 90 days per group
    onjob = "externalcontact/groupchat/onjob_transfer"
    assert sim.api(onjob, {"chat_id_list": [other_chat], "new_owner": "other"})["failed_chat_list"][0]["errcode"] == 90504
    assert sim.api(onjob, {"chat_id_list": [other_chat], "new_owner": "new"})["failed_chat_list"] == []
    assert sim.api(onjob, {"chat_id_list": [other_chat], "new_owner": "other"})["failed_chat_list"] == []
    third = sim.api(onjob, {"chat_id_list": [other_chat], "new_owner": "new"})["failed_chat_list"]
    assert third[0]["errcode"] == 40128
    assert client.external_contact_group_chat.get(other_chat)["group_chat"]["owner"] == "other"


def test_moments(sim):
    sim.member("g1")
    sim.member("g2")
    for i in range(25):
        sim.ctl("members/g1/moments", text=f"新品 {i}", image=[{"media_id": "M"}])
    sim.ctl("members/g2/moments", text={"content": "企业"}, create_type=0)
    sim.advance(10)
    now = 1_750_000_010
    api = "externalcontact/get_moment_list"
    assert sim.api(api, {"start_time": now - 31 * 86400, "end_time": now})["errcode"] == 40058
    first = sim.api(api, {"start_time": now - 86400, "end_time": now, "limit": 100})
    assert len(first["moment_list"]) == 20 and first["next_cursor"]  # limit ≤ 20
    rest = sim.api(api, {"start_time": now - 86400, "end_time": now, "cursor": first["next_cursor"]})
    assert len(rest["moment_list"]) == 6 and rest["next_cursor"] == ""
    moment = first["moment_list"][0]
    assert moment["creator"] == "g1" and moment["text"] == {"content": "新品 0"} and moment["create_type"] == 1
    corp = sim.api(api, {"start_time": now - 86400, "end_time": now, "filter_type": 0})["moment_list"]
    assert [m["creator"] for m in corp] == ["g2"]
    mine = sim.api(api, {"start_time": now - 86400, "end_time": now, "creator": "g2"})["moment_list"]
    assert len(mine) == 1


def authorize(sim, **params):
    query = {"appid": "wwsimtest0000001", "redirect_uri": "http://127.0.0.1:18000/h5/?next=today",
             "response_type": "code", "scope": "snsapi_base", "state": "S1", "agentid": "1000002", **params}
    return sim.http.get(f"{sim.base}/connect/oauth2/authorize", params=query, allow_redirects=False)


def test_oauth_code_single_use_and_expiry(sim, client):
    sim.member("g1", name="导购甲")
    picker = authorize(sim)
    assert picker.status_code == 200 and "导购甲" in picker.text and "userid=g1" in picker.text
    response = authorize(sim, userid="g1")
    assert response.status_code == 302
    location = urllib.parse.urlsplit(response.headers["Location"])
    assert location.netloc == "127.0.0.1:18000" and location.path == "/h5/"
    query = dict(urllib.parse.parse_qsl(location.query))
    assert query["next"] == "today" and query["state"] == "S1"
    code = query["code"]
    info = sim.api("auth/getuserinfo", token=sim.token("agent"), code=code)
    assert info["errcode"] == 0 and info["userid"] == "g1"
    assert sim.api("auth/getuserinfo", token=sim.token("agent"), code=code)["errcode"] == 40029  # single use
    code2 = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize(sim, userid="g1").headers["Location"]).query))[
        "code"]
    assert client.oauth.get_user_info(code2)["UserId"] == "g1"  # legacy user/getuserinfo (wechatpy)
    code3 = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize(sim, userid="g1").headers["Location"]).query))[
        "code"]
    sim.advance(301)
    with pytest.raises(WeChatClientException) as exc:
        client.oauth.get_user_info(code3)
    assert exc.value.errcode == 40029
    assert sim.api("auth/getuserinfo", code="")["errcode"] == 41008


def test_oauth_non_member_and_privateinfo(sim):
    sim.member("g1")
    euid = sim.customer()
    location = authorize(sim, external_userid=euid).headers["Location"]
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]
    info = sim.api("auth/getuserinfo", code=code)
    assert info["external_userid"] == euid and info["openid"].startswith("o") and "userid" not in info
    location = authorize(sim, userid="g1", scope="snsapi_privateinfo").headers["Location"]
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]
    info = sim.api("auth/getuserinfo", code=code)
    assert info["user_ticket"] and info["expires_in"] == 1800
    detail = sim.api("auth/getuserdetail", {"user_ticket": info["user_ticket"]})
    assert detail["userid"] == "g1"
    assert authorize(sim, appid="wrongcorp").status_code == 400


def test_jsapi_tickets(sim, client):
    corp = client.jsapi.get_ticket()
    agent = client.jsapi.get_agent_ticket()
    assert corp["expires_in"] == 7200 and agent["expires_in"] == 7200 and corp["ticket"] != agent["ticket"]
    assert client.jsapi.get_ticket()["ticket"] == corp["ticket"]
    sim.advance(7201)
    assert client.jsapi.get_ticket()["ticket"] != corp["ticket"]
    assert sim.api("ticket/get", type="other")["errcode"] == 40058
