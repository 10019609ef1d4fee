"""Customer groups (客户群) and corp tags (企业标签) kept in step by change_external_chat and
change_external_tag callbacks from the simulator, over real HTTP."""

import pytest
from django_tenants.utils import schema_context

from guides.brand.models import CustomerGroup, CustomerGroupMember
from members.models import MemberExternalId
from wecom import livecodes
from wecom.models import CallbackEvent, CorpTag, GroupChatRoute

# No django_db mark: these tests commit (the live server and the simulator see other connections).


def _group(guide, chat_id):
    with schema_context(guide.brand.schema_name):
        group = CustomerGroup.objects.get(chat_id=chat_id)
        members = {m.userid: m for m in CustomerGroupMember.objects.filter(group=group)}
    return group, members


def _events(chat_id):
    return list(CallbackEvent.objects.filter(chat_id=chat_id).order_by("id").values_list("change_type", "status",
                                                                                         "result"))


def test_group_lifecycle_create_join_leave_rename_dismiss(simulator, wecom_guide, drain):
    guide = wecom_guide()
    known, newcomer = simulator.customer("李雷", unionid="u-lilei"), simulator.customer("韩梅梅")
    simulator.scan(known, userid=guide.wecom_userid, state="poster")  # the mall knows 李雷 from now on
    drain()

    chat_id = simulator.groupchat(guide.wecom_userid, name="兰蔻会员群", members=[known])
    drain()
    group, members = _group(guide, chat_id)
    assert (group.name, group.owner_id, group.status, group.member_count, group.customer_count) == (
        "兰蔻会员群", guide.pk, "normal", 2, 1)
    assert group.store_id == guide.counter.store_id
    assert members[guide.wecom_userid].type == "member"
    assert (members[known].type, members[known].member_id) == (
        "external", MemberExternalId.objects.get(external_userid=known).member_id)

    simulator.join_group(newcomer, chat_id=chat_id)
    drain()
    group, members = _group(guide, chat_id)
    assert (group.member_count, members[newcomer].left_at, members[newcomer].member_id) == (3, None, None)

    simulator.post(f"customers/{newcomer}/leave_group", chat_id=chat_id)
    simulator.post(f"groupchats/{chat_id}/update", name="兰蔻VIP群", notice="周末新品试用")
    drain()
    group, members = _group(guide, chat_id)
    assert (group.name, group.notice, group.member_count) == ("兰蔻VIP群", "周末新品试用", 2)
    assert members[newcomer].left_at is not None and members[known].left_at is None

    simulator.post(f"groupchats/{chat_id}/dismiss")
    drain()
    group, members = _group(guide, chat_id)
    assert group.status == "dismissed" and group.dismissed_at is not None
    assert all(m.left_at is not None for m in members.values())

    events = _events(chat_id)
    assert [e[0] for e in events] == ["create", "update", "update", "update", "update", "dismiss"]
    assert {e[1] for e in events} == {"done"}, events
    details = {result.split(":")[0] for result in CallbackEvent.objects.filter(
        event="change_external_chat", chat_id=chat_id, change_type="update").values_list("result", flat=True)}
    assert details >= {"add_member", "del_member", "change_name"}, details


def test_repeated_event_at_the_stored_member_version_does_not_call_wecom(simulator, wecom_guide, drain):
    guide = wecom_guide()
    customer = simulator.customer("林涛")
    chat_id = simulator.groupchat(guide.wecom_userid, name="门店群")
    joined = simulator.join_group(customer, chat_id=chat_id)
    drain()
    gets_before = len(simulator.calls(endpoint="externalcontact/groupchat/get"))

    simulator.post("callbacks/send", event={
        "Event": "change_external_chat", "ChatId": chat_id, "ChangeType": "update", "UpdateDetail": "add_member",
        "JoinScene": 0, "MemChangeCnt": 1, "LastMemVer": "old", "CurMemVer": joined["member_version"]})
    drain()

    last = CallbackEvent.objects.filter(chat_id=chat_id).order_by("-id").first()
    assert (last.status, last.result.startswith("already at member version")) == ("done", True)
    assert len(simulator.calls(endpoint="externalcontact/groupchat/get")) == gets_before


def test_lost_events_are_repaired_by_the_re_read(simulator, platform_url, wecom_guide, drain):
    guide = wecom_guide()
    first, second = simulator.customer("甲"), simulator.customer("乙")
    chat_id = simulator.groupchat(guide.wecom_userid, name="会员群")
    drain()
    simulator.configure(callback_url="")  # WeCom's events for the next join are lost
    simulator.join_group(first, chat_id=chat_id)
    simulator.configure(callback_url=f"{platform_url}/wecom/callback/")
    simulator.join_group(second, chat_id=chat_id)
    drain()

    group, members = _group(guide, chat_id)
    last = CallbackEvent.objects.filter(chat_id=chat_id).order_by("-id").first()
    assert set(members) == {guide.wecom_userid, first, second}
    assert "gap repaired" in last.result


def test_group_whose_owner_is_not_a_guide_is_ignored(simulator, drain):
    simulator.member("not-a-guide", name="行政", silent=True)

    chat_id = simulator.groupchat("not-a-guide", name="内部群")
    drain()

    event = CallbackEvent.objects.get(chat_id=chat_id)
    assert (event.status, "not in the guide directory" in event.result) == ("ignored", True)
    assert not GroupChatRoute.objects.filter(chat_id=chat_id).exists()


def test_owner_change_moves_the_group_to_the_new_owners_brand(simulator, wecom_guide, drain):
    lancome, nike = wecom_guide("lancome"), wecom_guide("nike", name="王强")
    chat_id = simulator.groupchat(lancome.wecom_userid, name="联名群")
    drain()

    simulator.post(f"groupchats/{chat_id}/update", owner=nike.wecom_userid)
    drain()

    assert _group(lancome, chat_id)[0].status == "dismissed"
    moved, _members = _group(nike, chat_id)
    assert (moved.status, moved.owner_id) == ("normal", nike.pk)
    assert GroupChatRoute.objects.get(chat_id=chat_id).brand_id == nike.brand_id


def test_group_live_code_puts_customers_into_the_group_with_its_state(simulator, wecom_guide, drain):
    guide = wecom_guide()
    chat_id = simulator.groupchat(guide.wecom_userid, name="静安店会员群")
    drain()
    customer = simulator.customer("周芷若")
    with schema_context(guide.brand.schema_name):
        code = livecodes.group_livecode_create(name="静安店群码", chat_ids=[chat_id], scope="store",
                                               store=guide.counter.store, state="store-jingan", actor="test")

    simulator.join_group(customer, config_id=code.config_id)
    drain()

    _group_row, members = _group(guide, chat_id)
    assert (members[customer].join_scene, members[customer].state) == (3, "store-jingan")
    assert code.qr_code.endswith(".png")
    way = simulator.get("join_ways")["join_ways"][0]
    assert (way["config_id"], way["chat_id_list"], way["state"], way["scene"]) == (
        code.config_id, [chat_id], "store-jingan", 2)


def test_group_live_code_refuses_foreign_or_too_many_groups_before_calling_wecom(simulator, wecom_guide):
    from scrm.errors import AppError

    guide = wecom_guide()
    with schema_context(guide.brand.schema_name), pytest.raises(AppError) as refused:
        livecodes.group_livecode_create(name="群码", chat_ids=["wr-not-ours"], actor="test")

    assert refused.value.code == "unknown_groups"
    assert simulator.calls(endpoint="externalcontact/groupchat/add_join_way") == []


# --------------------------------------------------------------------------- corp tags

def _tags():
    return {t.name: t for t in CorpTag.objects.all()}


def test_tag_events_keep_the_corp_tag_table_in_step(simulator, drain):
    created = simulator.post("tags", group_name="兴趣偏好", tags=["口红", "香水"])
    drain()
    tags = _tags()
    assert {(n, t.group_name, t.deleted) for n, t in tags.items()} == {("口红", "兴趣偏好", False),
                                                                       ("香水", "兴趣偏好", False)}
    lipstick, perfume = created["created"]

    simulator.post(f"tags/{lipstick}/update", name="唇膏", order=9)
    simulator.post(f"tags/{perfume}/delete")
    simulator.post("tags/shuffle", group_id=tags["口红"].group_id)
    drain()

    tags = _tags()
    assert (tags["唇膏"].tag_id, tags["唇膏"].deleted, tags["香水"].deleted) == (lipstick, False, True)
    events = list(CallbackEvent.objects.filter(event="change_external_tag").order_by("id")
                  .values_list("change_type", "status"))
    assert [e[0] for e in events] == ["create", "create", "create", "update", "delete", "shuffle"]
    assert {e[1] for e in events} == {"done"}


def test_rule_group_tag_events_are_ignored(simulator, drain):
    simulator.post("callbacks/send", event={"Event": "change_external_tag", "Id": "st1", "TagType": "tag",
                                            "ChangeType": "create", "StrategyId": "1"})
    drain()

    assert CallbackEvent.objects.get(event="change_external_tag").status == "ignored"
