"""Inheritance (reference §6): unassigned list, resigned and on-job transfers, results, callbacks."""

from __future__ import annotations

DAY = 86400


def chunks(items, size=100):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def test_unassigned_list_page_and_cursor_modes(sim):
    sim.member("old")
    euids = sim.customers(25)
    sim.seed("old", euids)
    assert sim.api("externalcontact/get_unassigned_list", {"page_id": 0, "page_size": 10})["info"] == []
    sim.advance(100)
    sim.ctl("members/old/resign")
    page0 = sim.api("externalcontact/get_unassigned_list", {"page_id": 0, "page_size": 10})
    assert page0["is_last"] is False and "next_cursor" not in page0
    assert page0["info"][0] == {"handover_userid": "old", "external_userid": euids[0], "dimission_time": 1_750_000_100}
    page2 = sim.api("externalcontact/get_unassigned_list", {"page_id": 2, "page_size": 10})
    assert page2["is_last"] is True and len(page2["info"]) == 5
    assert sim.api("externalcontact/get_unassigned_list", {"page_id": 50, "page_size": 1000})["errcode"] == 40058
    got, cursor = [], ""
    while True:
        page = sim.api("externalcontact/get_unassigned_list", {"cursor": cursor, "page_size": 10})
        got += [i["external_userid"] for i in page["info"]]
        if page["is_last"]:
            assert page["next_cursor"] == ""
            break
        cursor = page["next_cursor"]
    assert got == euids


def test_resigned_transfer_in_chunks_with_outcomes_and_callbacks(sim, receiver):
    sim.ctl("config", takeover_delay_seconds=DAY)
    sim.member("old")
    sim.member("new", customer_limit=10_000)
    euids = sim.customers(250)
    sim.seed("old", euids)
    sim.ctl("members/old/resign")
    refuse, limit = euids[3], euids[150]
    sim.ctl("transfers/outcome", external_userids=[refuse], outcome="refuse")
    sim.ctl("transfers/outcome", external_userid=limit, outcome="limit")
    too_many = sim.api("externalcontact/resigned/transfer_customer",
                       {"handover_userid": "old", "takeover_userid": "new", "external_userid": euids[:101]})
    assert too_many["errcode"] == 40058
    for chunk in chunks(euids):
        result = sim.api("externalcontact/resigned/transfer_customer",
                         {"handover_userid": "old", "takeover_userid": "new", "external_userid": chunk})
        assert result["errcode"] == 0 and {c["errcode"] for c in result["customer"]} == {0}
    again = sim.api("externalcontact/resigned/transfer_customer",
                    {"handover_userid": "old", "takeover_userid": "new", "external_userid": euids[:1]})
    assert again["customer"] == [{"external_userid": euids[0], "errcode": 40100}]
    assert sim.api("externalcontact/get_unassigned_list", {"page_id": 0})["info"] == []
    waiting = sim.api("externalcontact/resigned/transfer_result", {"handover_userid": "old", "takeover_userid": "new"})
    assert {c["status"] for c in waiting["customer"]} == {2}
    assert waiting["customer"][0]["takeover_time"] == 1_750_000_000 + DAY
    sim.advance(DAY - 1)
    assert {c["status"] for c in sim.api("externalcontact/resigned/transfer_result",
                                         {"handover_userid": "old", "takeover_userid": "new"})["customer"]} == {2}
    sim.advance(1)
    final = sim.api("externalcontact/resigned/transfer_result", {"handover_userid": "old", "takeover_userid": "new"})
    status = {c["external_userid"]: c for c in final["customer"]}
    assert len(status) == 250 and final["next_cursor"] == ""
    assert status[refuse] == {"external_userid": refuse, "status": 3, "takeover_time": 0}
    assert status[limit]["status"] == 4
    assert status[euids[0]] == {"external_userid": euids[0], "status": 1, "takeover_time": 1_750_000_000 + DAY}
    new_list = sim.api("externalcontact/list", userid="new")["external_userid"]
    assert len(new_list) == 248 and refuse not in new_list and limit not in new_list
    follow = sim.api("externalcontact/get", external_userid=euids[0])["follow_user"]
    assert [(f["userid"], f["add_way"]) for f in follow] == [("new", 202)]
    # limit-exceeded customers are unassigned again; refused ones are lost
    unassigned = sim.api("externalcontact/get_unassigned_list", {"page_id": 0})["info"]
    assert [i["external_userid"] for i in unassigned] == [limit]
    sim.wait()
    adds = receiver.of("add_external_contact")
    dels = receiver.of("del_external_contact")
    fails = receiver.of("transfer_fail")
    assert len(adds) == 248 and all(e["UserID"] == "new" and "WelcomeCode" not in e for e in adds)
    assert len(dels) == 248 and all(e["UserID"] == "old" and e["Source"] == "DELETE_BY_TRANSFER" for e in dels)
    assert {(e["ExternalUserID"], e["FailReason"], e["UserID"]) for e in fails} == {
        (refuse, "customer_refused", "new"), (limit, "customer_limit_exceed", "new")}


def test_resigned_transfer_per_customer_errcodes(sim):
    sim.member("old")
    sim.member("stay")
    sim.member("new")
    sim.member("small", customer_limit=1)
    sim.member("off", status="inactive")
    sim.member("nov", status="unverified")
    mine, theirs, spare = sim.customers(3)
    sim.seed("old", [mine, spare])
    sim.seed("stay", [theirs])
    sim.seed("small", sim.customers(1))

    def transfer(handover, takeover, ids):
        data = sim.api("externalcontact/resigned/transfer_customer",
                       {"handover_userid": handover, "takeover_userid": takeover, "external_userid": ids})
        return [c["errcode"] for c in data["customer"]] if data["errcode"] == 0 else data["errcode"]

    assert transfer("stay", "new", [theirs]) == [40097]  # handover has not resigned
    sim.ctl("members/old/resign")
    assert transfer("old", "new", ["wmnosuchcustomer", theirs]) == [40096, 40131]
    assert transfer("old", "off", [mine]) == [41054]
    assert transfer("old", "nov", [mine]) == [40098]
    assert transfer("old", "small", [mine]) == [40099]
    assert transfer("old", "ghost", [mine]) == 40003
    assert transfer("old", "new", []) == 41035
    assert transfer("old", "new", [mine, spare]) == [0, 0]
    assert transfer("old", "stay", [mine]) == [40100]


def test_transfer_result_cursor_over_1000(sim):
    sim.member("old")
    sim.member("new")
    euids = sim.customers(1005)
    sim.seed("old", euids)
    sim.ctl("members/old/resign")
    for chunk in chunks(euids):
        sim.api("externalcontact/resigned/transfer_customer",
                {"handover_userid": "old", "takeover_userid": "new", "external_userid": chunk})
    first = sim.api("externalcontact/resigned/transfer_result", {"handover_userid": "old", "takeover_userid": "new"})
    assert len(first["customer"]) == 1000 and first["next_cursor"]
    second = sim.api("externalcontact/resigned/transfer_result", {"handover_userid": "old", "takeover_userid": "new",
                                                                  "cursor": first["next_cursor"]})
    assert [c["external_userid"] for c in second["customer"]] == euids[1000:] and second["next_cursor"] == ""


def test_onjob_transfer_limit_40128_and_statuses(sim, receiver):
    sim.ctl("config", takeover_delay_seconds=10)
    sim.member("a")
    sim.member("b")
    euid, other, gone = sim.customers(3)
    sim.seed("a", [euid, other, gone])

    def transfer(handover, takeover, ids, msg=None):
        body = {"handover_userid": handover, "takeover_userid": takeover, "external_userid": ids}
        if msg is not None:
            body["transfer_success_msg"] = msg
        return [c["errcode"] for c in sim.api("externalcontact/transfer_customer", body)["customer"]]

    assert transfer("a", "a", [euid]) == [40130]
    assert transfer("a", "b", [euid, gone], msg="您好，我是新的专属导购") == [0, 0]
    assert transfer("a", "b", [euid]) == [40129]  # already in transfer
    sim.ctl("members/a/delete_customer", external_userid=gone)  # relationship vanished while waiting
    sim.advance(10)
    result = sim.api("externalcontact/transfer_result", {"handover_userid": "a", "takeover_userid": "b"})
    assert {c["external_userid"]: c["status"] for c in result["customer"]} == {euid: 1, gone: 5}
    assert transfer("b", "a", [euid]) == [0]
    sim.advance(10)
    assert transfer("a", "b", [euid]) == [40128]  # third transfer within 90 days
    sim.advance(91 * DAY)
    assert transfer("a", "b", [euid]) == [0]
    sim.ctl("transfers/outcome", external_userid=other, outcome="refuse")
    assert transfer("a", "b", [other]) == [0]
    sim.advance(10)
    refused = sim.api("externalcontact/transfer_result", {"handover_userid": "a", "takeover_userid": "b"})
    assert {c["external_userid"]: c["status"] for c in refused["customer"]}[other] == 3
    assert other in sim.api("externalcontact/list", userid="a")["external_userid"]  # stays with a
    success_msgs = [m for m in sim.get("welcome_messages")["welcome_messages"] if m["kind"] == "transfer_success_msg"]
    assert success_msgs[0]["text"]["content"] == "您好，我是新的专属导购" and success_msgs[0]["external_userid"] == euid
    sim.wait()
    assert receiver.of("transfer_fail")[0]["FailReason"] == "customer_refused"


def test_takeover_at_limit_at_completion_gives_status_4(sim):
    sim.ctl("config", takeover_delay_seconds=10)
    sim.member("a")
    sim.member("b", customer_limit=2)
    mine = sim.customers(2)
    sim.seed("a", mine)
    data = sim.api("externalcontact/transfer_customer",
                   {"handover_userid": "a", "takeover_userid": "b", "external_userid": mine})
    assert [c["errcode"] for c in data["customer"]] == [0, 0]
    sim.seed("b", sim.customers(1))  # b gains a customer meanwhile: room for only one more
    sim.advance(10)
    result = sim.api("externalcontact/transfer_result", {"handover_userid": "a", "takeover_userid": "b"})
    assert [c["status"] for c in result["customer"]] == [1, 4]
