"""Members, customers, follow relationships, batch/get_by_user paging, remark, corp tags, contact ways."""

from __future__ import annotations

import pytest
from wechatpy.exceptions import WeChatClientException


def test_members_and_statuses(sim, client):
    sim.member("g1", name="导购一", department=[2])
    sim.member("g2", status="inactive")
    sim.member("g3", status="unverified")
    assert client.user.get("g1")["name"] == "导购一"
    assert client.user.get("g2")["status"] == 4
    users = sim.api("user/simplelist", department_id=2)["userlist"]
    assert [u["userid"] for u in users] == ["g1"]
    assert [u["userid"] for u in sim.api("user/list", department_id=1, fetch_child=1)["userlist"]] == ["g1", "g2", "g3"]
    sim.ctl("members/g1/resign")
    assert sim.api("user/get", userid="g1")["errcode"] == 60111
    assert client.external_contact.get_follow_user_list()["follow_user"] == ["g2", "g3"]


def test_external_userid_format_and_get(sim, client):
    sim.member("g1")
    euid = sim.customer("张三", gender=2)
    assert euid.startswith("wm") and len(euid) == 32
    assert sim.api("externalcontact/get", external_userid=euid)["errcode"] == 84061  # nobody follows yet
    sim.ctl(f"customers/{euid}/scan", userid="g1", state="counter-8")
    data = client.external_contact.get(euid)
    assert data["external_contact"]["name"] == "张三" and data["external_contact"]["type"] == 1
    assert data["external_contact"]["unionid"].startswith("o")
    follow = data["follow_user"][0]
    assert follow["userid"] == "g1" and follow["state"] == "counter-8" and follow["oper_userid"] == euid
    assert follow["add_way"] == 1 and follow["createtime"] == 1_750_000_000
    assert "next_cursor" not in data
    bad = sim.api("externalcontact/get", external_userid="wmdoesnotexist")
    assert bad["errcode"] == 40096 and bad["follow_user"] == []
    assert client.external_contact.list("g1")["external_userid"] == [euid]


def test_list_of_member_without_customers_is_84061(sim):
    sim.member("g1")
    data = sim.api("externalcontact/list", userid="g1")
    assert data["errcode"] == 84061 and data["external_userid"] == []


def test_follow_user_paged_above_500(sim):
    euid = sim.customer()
    sim.ctl("members", members=[{"userid": f"m{i:03d}"} for i in range(505)], silent=True)
    sim.ctl("follows", follows=[{"userid": f"m{i:03d}", "external_userid": euid} for i in range(505)])
    first = sim.api("externalcontact/get", external_userid=euid)
    assert len(first["follow_user"]) == 500 and first["next_cursor"]
    second = sim.api("externalcontact/get", external_userid=euid, cursor=first["next_cursor"])
    assert [f["userid"] for f in second["follow_user"]] == [f"m{i:03d}" for i in range(500, 505)]
    assert "next_cursor" not in second


def test_batch_get_by_user_limits_and_cursor(sim):
    sim.member("g1")
    sim.member("g2")
    a = sim.customers(130)
    b = sim.customers(30)
    sim.seed("g1", a, state="s1")
    sim.seed("g2", b)
    too_many = sim.api("externalcontact/batch/get_by_user", {"userid_list": [f"u{i}" for i in range(101)]})
    assert too_many["errcode"] == 40058
    seen, cursor, pages = [], "", 0
    while True:
        page = sim.api("externalcontact/batch/get_by_user", {"userid_list": ["g1", "g2"], "cursor": cursor,
                                                             "limit": 1000})
        assert page["errcode"] == 0 and len(page["external_contact_list"]) <= 100  # limit clamped to 100
        seen += [(i["follow_info"]["userid"], i["external_contact"]["external_userid"])
                 for i in page["external_contact_list"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 2
    assert seen == [("g1", e) for e in a] + [("g2", e) for e in b]
    default = sim.api("externalcontact/batch/get_by_user", {"userid_list": ["g1"]})
    assert len(default["external_contact_list"]) == 50  # default limit
    info = default["external_contact_list"][0]["follow_info"]
    assert info["state"] == "s1" and info["tag_id"] == []
    assert sim.api("externalcontact/batch/get_by_user", {"userid_list": ["g1"], "cursor": "garbage!"})["errcode"] == 40058


def test_batch_get_by_user_cursor_exactly_at_user_boundary(sim):
    sim.member("g1")
    sim.member("g2")
    sim.seed("g1", sim.customers(3))
    sim.seed("g2", sim.customers(2))
    page = sim.api("externalcontact/batch/get_by_user", {"userid_list": ["g1", "g2"], "limit": 3})
    assert len(page["external_contact_list"]) == 3 and page["next_cursor"]
    rest = sim.api("externalcontact/batch/get_by_user", {"userid_list": ["g1", "g2"], "limit": 3,
                                                          "cursor": page["next_cursor"]})
    assert [i["follow_info"]["userid"] for i in rest["external_contact_list"]] == ["g2", "g2"]
    assert rest["next_cursor"] == ""


def test_remark_and_tags_via_api_emit_no_callbacks(sim, client, receiver):
    sim.member("g1")
    euid = sim.customer()
    sim.seed("g1", [euid])
    group = client.external_contact.add_corp_tag(None, "会员等级", 0, [{"name": "金卡"}, {"name": "银卡"}])["tag_group"]
    gold = group["tag"][0]["id"]
    assert gold.startswith("et") and [t["name"] for t in group["tag"]] == ["金卡", "银卡"]
    client.external_contact.mark_tag("g1", euid, add_tag=[gold])
    assert sim.api("externalcontact/remark", {"userid": "g1", "external_userid": euid, "remark": "x" * 21})[
        "errcode"] == 40058
    sim.api("externalcontact/remark", {"userid": "g1", "external_userid": euid, "remark": "王女士",
                                       "remark_mobiles": ["13800000000"]})
    follow = client.external_contact.get(euid)["follow_user"][0]
    assert follow["remark"] == "王女士" and follow["remark_mobiles"] == ["13800000000"]
    assert follow["tags"] == [{"group_name": "会员等级", "tag_name": "金卡", "tag_id": gold, "type": 1}]
    with pytest.raises(WeChatClientException) as exc:
        client.external_contact.mark_tag("g1", euid, add_tag=["etnope"])
    assert exc.value.errcode == 40068
    client.external_contact.edit_corp_tag(gold, "黑金卡", None)
    with pytest.raises(WeChatClientException) as exc:
        client.external_contact.edit_corp_tag(gold, "银卡", None)
    assert exc.value.errcode == 40071
    client.external_contact.del_corp_tag(tag_id=[gold])
    tags = client.external_contact.get_corp_tag_list()["tag_group"][0]["tag"]
    assert [t["name"] for t in tags] == ["银卡"]
    assert client.external_contact.get(euid)["follow_user"][0]["tags"] == []
    sim.wait()
    # "通过API进行的操作不会产生回调": only the member creation (control API) produced an event.
    assert [(e["Event"], e["ChangeType"]) for e in receiver.events] == [("change_contact", "create_user")]


def test_admin_console_tag_changes_emit_change_external_tag(sim, receiver):
    created = sim.ctl("tags", group_name="兴趣", tags=["美妆", "运动"])
    tag_id = created["created"][0]
    sim.ctl(f"tags/{tag_id}/update", name="彩妆")
    sim.ctl(f"tags/{tag_id}/delete")
    sim.ctl("tags/shuffle")
    sim.wait()
    got = [(e["ChangeType"], e["TagType"], e["Id"] or "") for e in receiver.events]
    group_id = created["tag_group"]["group_id"]
    assert got == [("create", "tag_group", group_id), ("create", "tag", tag_id), ("create", "tag", created["created"][1]),
                   ("update", "tag", tag_id), ("delete", "tag", tag_id), ("shuffle", "tag", "")]
    assert all(e["Event"] == "change_external_tag" for e in receiver.events)


def test_contact_way_validation(sim, client):
    sim.member("g1")
    sim.member("g2")
    sim.member("off", status="inactive")
    sim.member("nov", status="unverified")
    api = "externalcontact/add_contact_way"
    assert sim.api(api, {"scene": 2, "user": ["g1"]})["errcode"] == 41037
    assert sim.api(api, {"type": 1, "user": ["g1"]})["errcode"] == 41038
    assert sim.api(api, {"type": 3, "scene": 2, "user": ["g1"]})["errcode"] == 41039
    assert sim.api(api, {"type": 1, "scene": 3, "user": ["g1"]})["errcode"] == 41040
    assert sim.api(api, {"type": 1, "scene": 2, "user": ["g1"], "state": "s" * 31})["errcode"] == 40058
    assert sim.api(api, {"type": 1, "scene": 2, "user": ["g1"], "state": "柜" * 30})["errcode"] == 0
    assert sim.api(api, {"type": 1, "scene": 2, "user": ["g1"], "remark": "r" * 31})["errcode"] == 40058
    assert sim.api(api, {"type": 1, "scene": 2, "user": ["g1", "g2"]})["errcode"] == 40058
    assert sim.api(api, {"type": 1, "scene": 2, "user": ["off"]})["errcode"] == 41054
    assert sim.api(api, {"type": 1, "scene": 2, "user": ["nov"]})["errcode"] == 40098
    sim.ctl("members", members=[{"userid": f"x{i}"} for i in range(101)], silent=True)
    assert sim.api(api, {"type": 2, "scene": 2, "user": [f"x{i}" for i in range(101)]})["errcode"] == 41041


def test_contact_way_crud_qr_and_list_cursor(sim, client):
    sim.member("g1")
    way = client.external_contact.add_contact_way(1, 2, remark="门店", state="ch1", user=["g1"])
    config_id, qr = way["config_id"], way["qr_code"]
    assert len(config_id) == 32 and qr.startswith(sim.base + "/sim/qr/contact/")
    image = sim.http.get(qr)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert image.content[:8] == b"\x89PNG\r\n\x1a\n"
    svg = sim.http.get(qr.replace(".png", ".svg"))
    assert svg.headers["Content-Type"] == "image/svg+xml"
    got = client.external_contact.get_contact_way(config_id)["contact_way"]
    assert got["state"] == "ch1" and got["user"] == ["g1"] and got["qr_code"] == qr
    client.external_contact.update_contact_way(config_id, "新备注", state="ch2")
    assert client.external_contact.get_contact_way(config_id)["contact_way"]["state"] == "ch2"
    for _ in range(4):
        client.external_contact.add_contact_way(1, 1, user=["g1"])
    ids, cursor = [], ""
    while True:
        page = sim.api("externalcontact/list_contact_way", {"limit": 2, "cursor": cursor})
        ids += [w["config_id"] for w in page["contact_way"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(ids) == 5 and ids[0] == config_id
    client.external_contact.del_contact_way(config_id)
    assert sim.api("externalcontact/get_contact_way", {"config_id": config_id})["errcode"] == 41044
    assert sim.api("externalcontact/get_contact_way", {})["errcode"] == 41043


def test_scan_page_adds_a_customer(sim, client, receiver):
    sim.member("g1")
    config_id = client.external_contact.add_contact_way(1, 2, state="poster", user=["g1"])["config_id"]
    assert "poster" in sim.http.get(f"{sim.base}/sim/scan/{config_id}").text
    page = sim.http.post(f"{sim.base}/sim/scan/{config_id}", data={"name": "李四"})
    assert page.status_code == 200 and "Added" in page.text
    sim.wait()
    (event,) = receiver.of("add_external_contact")
    assert event["State"] == "poster" and event["UserID"] == "g1"
