"""Handover services against the in-thread WeCom simulator (the database work runs in the test transaction)."""

from __future__ import annotations

import pytest

from guides.handover import services
from guides.handover.models import Handover, HandoverItem, HandoverStatus, ItemState
from guides.handover.selectors import handover_counts, handover_csv

pytestmark = pytest.mark.django_db


def _states(handover) -> dict[str, int]:
    out: dict[str, int] = {}
    for state in HandoverItem.objects.filter(handover=handover).values_list("state", flat=True):
        out[state] = out.get(state, 0) + 1
    return out


def _successful_submissions(sim, euid: str) -> int:
    """Transfers WeCom started for the customer (each successful per-customer errcode 0 starts one)."""
    return sum(1 for t in sim.get("transfers")["transfers"] if t["external_userid"] == euid)


def test_start_spreads_customers_over_the_least_loaded_colleagues(team, in_brand):
    departed, others, _euids, _members = team(n=6, colleagues=2)

    handover = services.handover_start(guide=departed, source="test")

    successors = list(HandoverItem.objects.filter(handover=handover).values_list("successor_id", flat=True))
    assert sorted(successors.count(g.pk) for g in others) == [3, 3]
    assert handover.status == HandoverStatus.TRANSFERRING
    assert services.handover_start(guide=departed, source="again").pk == handover.pk  # one per guide
    assert HandoverItem.objects.filter(handover=handover).count() == 6


def test_same_counter_comes_before_the_rest_of_the_brand(team, in_brand, make_guide, brand_a):
    from tenants.models import Counter, Store

    departed, others, _euids, _members = team(n=4, colleagues=1)
    far_store = Store.objects.create(code="S99", name="浦东店", city="上海", address="世纪大道1号",
                                     latitude="31.2", longitude="121.5")
    far = make_guide(brand_a, userid="far-guide")
    far.counter = Counter.objects.create(brand=brand_a, store=far_store, code="C-far", name="浦东专柜")
    far.save()

    handover = services.handover_start(guide=departed, source="test")

    assert set(HandoverItem.objects.filter(handover=handover).values_list("successor_id", flat=True)) == {others[0].pk}


def test_without_any_colleague_the_handover_waits_for_a_successor(team, in_brand, make_guide, brand_a):
    departed, _others, _euids, _members = team(n=3, colleagues=0)

    handover = services.handover_start(guide=departed, source="test")
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.NEEDS_SUCCESSOR
    assert handover_counts(handover_id=handover.pk)["needs_successor"] == 3

    newcomer = make_guide(brand_a, userid="t-newcomer")
    assert services.handover_assign(handover=handover, successor=newcomer) == 3
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.TRANSFERRING


def test_full_run_takes_over_refuses_and_moves_relationships_with_day0(team, in_brand, sim):
    from guides.brand.models import Relationship

    departed, others, euids, members = team(n=6, colleagues=2)
    sim.transfer_outcome([euids[0]], "refuse")
    Relationship.objects.filter(guide=departed, member=members[1]).update(
        remark="小黑瓶老客", description="周末到店", tag_ids=["et-vip"])
    handover = services.handover_start(guide=departed, source="test")
    original = {r.member_id: r.added_at for r in Relationship.objects.filter(guide=departed)}

    services.handover_run(handover_id=handover.pk)
    assert _states(handover) == {"waiting": 6}
    sim.advance(120)
    assert services.handover_run(handover_id=handover.pk) == HandoverStatus.DONE

    assert _states(handover) == {"taken_over": 5, "refused": 1}
    taken = HandoverItem.objects.filter(handover=handover, state=ItemState.TAKEN_OVER)
    for item in taken:
        moved = Relationship.objects.get(pk=item.to_relationship_id)
        assert (moved.guide_id, moved.status, moved.added_at, moved.channel) == (
            item.successor_id, "active", original[item.member_id], "poster")
    notes = Relationship.objects.get(member=members[1], status="active")  # the guide's notes moved too
    assert (notes.remark, notes.description, notes.tag_ids) == ("小黑瓶老客", "周末到店", ["et-vip"])
    old = dict(Relationship.objects.filter(guide=departed).values_list("member_id", "ended_reason"))
    assert old[members[0].pk] == "transfer_refused"
    assert sorted(old.values()) == ["transfer_refused"] + ["transferred"] * 5
    counts = handover_counts(handover_id=handover.pk)
    assert (counts["total"], counts["taken_over"], counts["refused"]) == (6, 5, 1)
    assert handover_csv(handover_id=handover.pk).count("\n") == 7


def test_a_second_run_or_double_click_never_submits_anyone_twice(team, in_brand, sim):
    departed, _others, euids, _members = team(n=5, colleagues=1)
    handover = services.handover_start(guide=departed, source="test")

    services.handover_submit_all(handover_id=handover.pk)
    services.handover_submit_all(handover_id=handover.pk)
    services.handover_run(handover_id=handover.pk)

    assert [_successful_submissions(sim, e) for e in euids] == [1] * 5
    assert _states(handover) == {"waiting": 5}


def test_successor_at_limit_goes_to_another_colleague(team, in_brand, sim):
    departed, others, euids, _members = team(n=4, colleagues=2)
    sim.member(others[0].wecom_userid, customer_limit=0)
    handover = services.handover_start(guide=departed, source="test")

    services.handover_run(handover_id=handover.pk)  # 40099 for others[0]'s chunk -> reassigned, submitted
    sim.advance(120)
    services.handover_run(handover_id=handover.pk)

    items = HandoverItem.objects.filter(handover=handover)
    assert {i.state for i in items} == {"taken_over"}
    assert {i.successor_id for i in items} == {others[1].pk}
    handover.refresh_from_db()
    assert handover.excluded_successors == [others[0].pk]


def test_status_4_without_another_successor_waits_at_limit(team, in_brand, sim):
    departed, others, euids, _members = team(n=2, colleagues=1)
    sim.transfer_outcome(euids[:1], "limit")
    handover = services.handover_start(guide=departed, source="test")
    services.handover_run(handover_id=handover.pk)
    sim.advance(120)
    services.handover_run(handover_id=handover.pk)
    assert _states(handover) == {"taken_over": 1, "successor_at_limit": 1}


@pytest.mark.parametrize(("errcode", "action"), [
    (0, "wait"), (40100, "wait"), (40129, "wait"), (40099, "reassign"), (40098, "reassign"), (41054, "reassign"),
    (40130, "reassign"), (84061, "no_relationship"), (40131, "no_relationship"), (40097, "retry"),
    (40096, "fail"), (40128, "fail"), (99999, "fail"),
])
def test_errcode_table(errcode, action):
    assert services.errcode_action(errcode) == action


def test_not_yet_resigned_in_wecom_is_retried_later(team, in_brand, sim):
    from guides.services import guide_resign

    departed, _others, _euids, _members = team(n=2, colleagues=1, resign=False)
    guide_resign(guide=departed, source="manager")  # the platform knows, WeCom does not yet
    departed.refresh_from_db()
    handover = services.handover_start(guide=departed, source="manager")

    services.handover_run(handover_id=handover.pk)

    items = HandoverItem.objects.filter(handover=handover)
    assert {(i.state, i.errcode) for i in items} == {("pending", 40097)}
    assert all(i.next_attempt_at is not None for i in items)


def test_customer_deleted_by_guide_has_no_relationship(team, in_brand, sim):
    departed, _others, euids, _members = team(n=2, colleagues=1)
    sim.fail("externalcontact/resigned/transfer_customer", 0)  # nothing: just shows fail is per call
    sim.post("fail/clear")
    sim.customer_deletes_member(euids[0], departed.wecom_userid)  # one-way follow -> 84061
    handover = services.handover_start(guide=departed, source="test")
    services.handover_run(handover_id=handover.pk)
    assert _states(handover) == {"no_relationship": 1, "waiting": 1}


def test_rate_limit_puts_the_chunk_back_with_a_back_off(team, in_brand, sim):
    departed, _others, _euids, _members = team(n=3, colleagues=1)
    handover = services.handover_start(guide=departed, source="test")
    sim.fail("externalcontact/resigned/transfer_customer", 45009)

    with pytest.raises(services.RateLimitedLater):
        services.handover_submit_chunk(handover_id=handover.pk)

    items = HandoverItem.objects.filter(handover=handover)
    assert {(i.state, i.errcode) for i in items} == {("pending", 45009)}
    assert services.handover_submit_chunk(handover_id=handover.pk) == 0  # backing off: nothing due yet


def test_claimed_but_never_sent_is_resubmitted_after_the_grace(team, in_brand, sim, settings):
    departed, _others, euids, _members = team(n=3, colleagues=1)
    handover = services.handover_start(guide=departed, source="test")
    services._claim_chunk(handover.pk)  # a worker claimed, then died before calling WeCom
    settings.HANDOVER_RESUBMIT_AFTER_SECONDS = 0

    services.handover_run(handover_id=handover.pk)

    assert _states(handover) == {"waiting": 3}
    assert [_successful_submissions(sim, e) for e in euids] == [1] * 3


def test_transfer_fail_callback_settles_at_once(team, in_brand, sim):
    departed, others, euids, members = team(n=2, colleagues=1)
    handover = services.handover_start(guide=departed, source="test")
    services.handover_run(handover_id=handover.pk)

    assert services.handover_transfer_fail(takeover=others[0], external_userid=euids[1],
                                           reason="customer_refused") == 1
    assert services.handover_transfer_fail(takeover=others[0], external_userid=euids[1],
                                           reason="customer_refused") == 0
    assert HandoverItem.objects.get(handover=handover, member=members[1]).state == "refused"


def test_onjob_transfer_skips_customers_moved_twice_in_90_days(team, in_brand, sim):
    departed, others, euids, members = team(n=3, colleagues=1, resign=False)
    for _ in range(2):  # two earlier on-job moves of members[0] the platform knows about
        earlier = Handover.objects.create(kind="onjob", guide=departed)
        HandoverItem.objects.create(handover=earlier, member=members[0], external_userid=euids[0],
                                    state="taken_over", submitted_at="2099-01-01T00:00:00Z")

    handover = services.onjob_transfer_create(from_guide=departed, to_guide=others[0],
                                              member_ids=[m.pk for m in members], message="我换岗了，新同事接待您")
    services.handover_run(handover_id=handover.pk)

    assert dict(HandoverItem.objects.filter(handover=handover).values_list("member_id", "errcode")) == {
        members[0].pk: 40128, members[1].pk: None, members[2].pk: None}
    assert _states(handover) == {"failed": 1, "waiting": 2}
    sim.advance(120)
    services.handover_run(handover_id=handover.pk)
    assert _states(handover) == {"failed": 1, "taken_over": 2}
    assert any(m["text"]["content"] == "我换岗了，新同事接待您" for m in sim.welcome_messages())


def test_taken_over_customers_take_their_open_tasks_with_the_same_lifecycle_day(team, in_brand, sim):
    import datetime as dt

    from tasks.models import GuideTask

    departed, others, euids, members = team(n=3, colleagues=1)
    sim.transfer_outcome([euids[0]], "refuse")
    tasks = [GuideTask.objects.create(source="lifecycle", ref="hq:d14", period="p", guide=departed, member=m,
                                      lifecycle_day=14, task_type="benefits", title="第14天", issued_on=dt.date(2026, 1, 18),
                                      due_on=dt.date(2026, 1, 21)) for m in members]
    done = GuideTask.objects.create(source="lifecycle", ref="hq:d7", period="p", guide=departed, member=members[1],
                                    lifecycle_day=7, task_type="benefits", title="第7天", state="done",
                                    completed_at=dt.datetime(2026, 1, 12, tzinfo=dt.UTC),
                                    issued_on=dt.date(2026, 1, 11), due_on=dt.date(2026, 1, 14))
    handover = services.handover_start(guide=departed, source="test")
    services.handover_run(handover_id=handover.pk)
    assert {t.guide_id for t in GuideTask.objects.filter(pk__in=[t.pk for t in tasks])} == {departed.pk}  # waiting
    sim.advance(120)
    services.handover_run(handover_id=handover.pk)

    after = {t.member_id: t for t in GuideTask.objects.filter(pk__in=[t.pk for t in tasks])}
    assert after[members[0].pk].guide_id == departed.pk  # refused: not the successor's customer
    for member in members[1:]:
        task = after[member.pk]
        assert (task.guide_id, task.lifecycle_day, task.due_on, task.state) == (
            others[0].pk, 14, dt.date(2026, 1, 21), "open")
        assert task.relationship.guide_id == others[0].pk
    done.refresh_from_db()
    assert done.guide_id == departed.pk  # history stays with whoever did it


def test_transfer_fail_callback_through_the_wecom_handler(team, in_brand, sim):
    from wecom.models import CallbackEvent
    from wecom.services import handle_transfer_fail

    departed, others, euids, _members = team(n=2, colleagues=1)
    handover = services.handover_start(guide=departed, source="test")
    services.handover_run(handover_id=handover.pk)
    event = CallbackEvent(event="change_external_contact", change_type="transfer_fail", user_id=others[0].wecom_userid,
                          external_userid=euids[0], payload={"FailReason": "customer_refused"})

    outcome = handle_transfer_fail(event)

    assert "1 handover customer" in outcome.result
    assert _states(handover) == {"refused": 1, "waiting": 1}


def test_resigning_locks_the_guides_sidebar_login(team, make_user, brand_a):
    departed, _others, _euids, _members = team(n=1, colleagues=1, resign=False)
    user = make_user("leaving-guide", "guide", brand=brand_a, guide=departed)
    from guides.services import guide_resign

    guide_resign(guide=departed, source="test")

    user.refresh_from_db()
    departed.refresh_from_db()
    assert (departed.status, user.is_active) == ("resigned", False)


def test_nightly_unassigned_reconcile_resigns_and_then_hands_over(team, sim, brand_a, django_capture_on_commit_callbacks):
    from django_tenants.utils import schema_context

    from guides.models import Guide

    departed, _others, euids, _members = team(n=3, colleagues=1, resign=False)
    sim.resign(departed.wecom_userid)  # the delete_user callback was lost: WeCom knows, we do not

    with django_capture_on_commit_callbacks() as callbacks:
        first = services.unassigned_reconcile()
    second = services.unassigned_reconcile()  # the next night: the guide is resigned here too

    assert (first["guides"], first["resigned"]) == (1, 1)
    assert len(callbacks) == 1  # handover.start enqueued after the resignation commits
    assert Guide.objects.get(pk=departed.pk).status == "resigned"
    assert second["guides"] == 1 and second["resigned"] == 0
    with schema_context(brand_a.schema_name):
        handover = Handover.objects.get(guide=departed)
        assert set(HandoverItem.objects.filter(handover=handover).values_list("external_userid", flat=True)) == set(euids)


def test_departed_guides_groups_go_to_a_successor_within_the_daily_cap(team, in_brand, sim, monkeypatch):
    from guides.brand.models import CustomerGroup
    from guides.handover.models import HandoverGroup

    departed, others, euids, _members = team(n=2, colleagues=1, resign=False)
    chat_ids = [sim.groupchat(departed.wecom_userid, name=f"会员群{i}", members=euids) for i in range(3)]
    CustomerGroup.objects.bulk_create([CustomerGroup(chat_id=c, name=c, owner=departed, owner_userid=departed.wecom_userid)
                                       for c in chat_ids])
    from guides.services import guide_resign

    sim.resign(departed.wecom_userid)
    guide_resign(guide=departed, source="test")
    monkeypatch.setattr(services, "GROUPS_PER_DAY_PER_OWNER", 2)  # WeCom: 300 a day per new owner
    handover = services.handover_start(guide=departed, source="test")

    services.handover_run(handover_id=handover.pk)
    services.handover_run(handover_id=handover.pk)  # the same day: the cap holds

    states = dict(HandoverGroup.objects.filter(handover=handover).values_list("chat_id", "state"))
    assert sorted(states.values()) == ["done", "done", "pending"]
    moved = [c for c, s in states.items() if s == "done"]
    assert set(CustomerGroup.objects.filter(chat_id__in=moved).values_list("owner_id", flat=True)) == {others[0].pk}
    calls = sim.calls(endpoint="externalcontact/groupchat/transfer")
    assert len(calls) == 1 and len(calls[0]["body"]["chat_id_list"]) == 2
    assert [sim.get(f"groupchats/{c}")["groupchat"]["owner"] for c in moved] == [others[0].wecom_userid] * 2


def test_a_group_wecom_refuses_for_the_day_waits_instead_of_failing(team, in_brand, sim, monkeypatch):
    from guides.handover.models import HandoverGroup

    departed, others, _euids, _members = team(n=1, colleagues=1)
    handover = services.handover_start(guide=departed, source="test")
    HandoverGroup.objects.create(handover=handover, chat_id="wr-45009")

    class Answer:
        def groupchat_transfer(self, chat_ids, owner):
            return {"failed_chat_list": [{"chat_id": c, "errcode": 45009} for c in chat_ids]}

    monkeypatch.setattr(services, "mall_client", Answer)
    assert services.groups_transfer(handover_id=handover.pk) == 0
    group = HandoverGroup.objects.get(handover=handover)
    assert (group.state, group.errcode) == ("pending", 45009)


def test_a_successor_unknown_to_wecom_is_skipped_for_another_colleague(team, in_brand, sim, make_guide, brand_a):
    departed, others, euids, _members = team(n=3, colleagues=1)
    ghost = make_guide(brand_a, userid="not-in-wecom", name="未开通企微")  # active here, unknown to WeCom
    handover = services.handover_start(guide=departed, source="test")
    services.handover_assign(handover=handover, successor=ghost)

    services.handover_run(handover_id=handover.pk)  # 40003 for the whole call: nothing started

    items = list(HandoverItem.objects.filter(handover=handover))
    handover.refresh_from_db()
    assert ghost.pk in handover.excluded_successors
    assert {(i.state, i.successor_id) for i in items} == {("waiting", others[0].pk)}
    assert {t["takeover_userid"] for t in sim.get("transfers")["transfers"]} == {others[0].wecom_userid}


def test_with_nobody_at_the_counter_a_colleague_elsewhere_in_the_brand_inherits(team, in_brand, make_guide, brand_a):
    from tenants.models import Counter, Store

    departed, _others, _euids, _members = team(n=3, colleagues=0)
    elsewhere = Store.objects.create(code="S98", name="虹桥店", city="上海", address="申长路1号",
                                     latitude="31.19", longitude="121.32")
    far = make_guide(brand_a, userid="far-only")
    far.counter = Counter.objects.create(brand=brand_a, store=elsewhere, code="C-far2", name="虹桥专柜")
    far.save()

    handover = services.handover_start(guide=departed, source="test")

    assert set(HandoverItem.objects.filter(handover=handover).values_list("successor_id", flat=True)) == {far.pk}


def test_transfer_result_is_read_page_by_page_with_its_cursor(team, in_brand, sim, monkeypatch):
    departed, others, euids, _members = team(n=3, colleagues=1)
    handover = services.handover_start(guide=departed, source="test")
    services.handover_submit_all(handover_id=handover.pk)
    seen_cursors = []

    class Paged:
        def resigned_transfer_result(self, handover_userid, takeover_userid, cursor=""):
            seen_cursors.append(cursor)
            if not cursor:
                return {"customer": [{"external_userid": euids[0], "status": 1, "takeover_time": 1767225600}],
                        "next_cursor": "page-2"}
            return {"customer": [{"external_userid": e, "status": 3, "takeover_time": 0} for e in euids[1:]],
                    "next_cursor": ""}

    monkeypatch.setattr(services, "mall_client", Paged)
    moved = services.handover_poll(handover_id=handover.pk)

    assert seen_cursors == ["", "page-2"]
    assert moved == {"taken_over": 1, "refused": 2}
    assert _states(handover) == {"taken_over": 1, "refused": 2}
