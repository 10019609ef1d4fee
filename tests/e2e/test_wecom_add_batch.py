"""Customer adds processed in a batch (wecom/adds.py) through the WeCom simulator over real HTTP.

The callbacks are received and stored as usual, but not enqueued (as when the worker is behind), so one
``inbox_process`` finds them all pending and takes them together."""

import time

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from guides.brand.models import Relationship
from members.brand.models import BrandCoupon, BrandCouponTemplate, BrandMember
from members.models import Member, MemberExternalId
from tenants.models import AuditEvent, Brand
from wecom import services
from wecom.models import ApiCall, CallbackEvent, WelcomeDelivery
from wecom.tasks import process_callback

# No django_db mark: these tests commit (the live server and the simulator see other connections).


@pytest.fixture
def held(monkeypatch):
    """Callbacks are stored but no task is enqueued: they wait in the inbox, as behind a busy worker."""
    monkeypatch.setattr("wecom.views._enqueue", lambda event_id: None)


def _welcome(slug: str, *, stock=None):
    from wecom.brand.models import WelcomeMessage

    with schema_context(Brand.objects.get(slug=slug).schema_name):
        template = BrandCouponTemplate.objects.create(name="新客礼券", kind="cash", value_cents=5000, valid_days=30,
                                                      stock=stock)
        WelcomeMessage.objects.create(text="{name}您好，我是{guide}", coupon_template=template,
                                      link_url="https://mall.example/w", link_title="新客礼")
    return template


def _adds(simulator, pairs):
    """Customers add guides; returns the stored events, oldest first."""
    for customer, guide, state in pairs:
        simulator.scan(customer, userid=guide.wecom_userid, state=state)
    assert simulator.wait_deliveries(timeout=20)
    customers = {c for c, _g, _s in pairs}
    return list(CallbackEvent.objects.filter(external_userid__in=customers, change_type="add_external_contact")
                .order_by("id"))


def _member_of(external_userid: str) -> Member:
    return Member.objects.get(pk=MemberExternalId.objects.get(external_userid=external_userid).member_id)


def test_a_batch_of_adds_of_two_brands(simulator, guide_factory, held):
    lancome, nike = guide_factory("lancome"), guide_factory("nike", name="王强")
    template = _welcome("lancome")
    for guide in (lancome, nike):
        simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    a, b, c = (simulator.customer(name, unionid=f"u-{name}-{time.time_ns()}", gender=2) for name in ("甲", "乙", "丙"))
    events = _adds(simulator, [(a, lancome, "counter:A01"), (b, nike, "wb:1:spring"), (c, lancome, "")])
    assert [e.status for e in events] == ["pending"] * 3
    calls_before = ApiCall.objects.order_by("-id").values_list("id", flat=True).first() or 0

    assert services.inbox_process(events[0].pk) == "done"

    events = [CallbackEvent.objects.get(pk=e.pk) for e in events]
    assert [(e.status, e.attempts) for e in events] == [("done", 1)] * 3
    assert [e.brand_id for e in events] == [lancome.brand_id, nike.brand_id, lancome.brand_id]
    for customer, guide, channel in ((a, lancome, "counter:A01"), (b, nike, "link:spring"), (c, lancome, "direct")):
        member = _member_of(customer)
        assert (member.gender, member.first_brand_id, member.first_guide_id, member.first_channel) == (
            "female", guide.brand_id, guide.pk, channel)
        with schema_context(guide.brand.schema_name):
            membership = BrandMember.objects.get(member=member)
            relationship = Relationship.objects.get(member=member)
        assert (membership.source_guide_id, membership.source_channel) == (guide.pk, channel)
        assert (relationship.guide_id, relationship.status, relationship.channel) == (guide.pk, "active", channel)
        assert AuditEvent.objects.filter(member_id=member.pk, action__in=["member.enrolled", "relationship.created"]
                                         ).count() == 2
    sent = {d.member.unionid[:4]: d for d in WelcomeDelivery.objects.filter(event__in=events).select_related("member")}
    assert {k: d.status for k, d in sent.items()} == {"u-甲-": "sent", "u-乙-": "not_configured", "u-丙-": "sent"}
    with schema_context(lancome.brand.schema_name):
        codes = set(BrandCoupon.objects.filter(template=template).values_list("code", flat=True))
        template.refresh_from_db()
    assert codes == {sent["u-甲-"].coupon_code, sent["u-丙-"].coupon_code} and template.issued_count == 2
    message = simulator.welcome_messages(external_userid=a)[0]
    assert "甲您好，我是陈小美" in message["text"]["content"] and sent["u-甲-"].coupon_code in message["text"]["content"]
    assert simulator.welcome_messages(external_userid=b) == []
    new_calls = ApiCall.objects.filter(pk__gt=calls_before)
    assert sorted(c.endpoint for c in new_calls) == ["externalcontact/get"] * 3 + ["externalcontact/send_welcome_msg"] * 2


def test_known_customers_and_duplicates_in_a_batch_go_the_one_event_way(simulator, guide_factory, held):
    lancome, nike = guide_factory("lancome"), guide_factory("nike", name="王强")
    for guide in (lancome, nike):
        simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    known, back, twice = simulator.customer("老客"), simulator.customer("回头客"), simulator.customer("双品牌")
    first = _adds(simulator, [(known, lancome, "poster"), (back, lancome, "poster")])
    assert [services.inbox_process(e.pk) for e in first] == ["done", None]  # the first took both
    simulator.customer_deletes_member(back, lancome.wecom_userid)
    simulator.member_deletes_customer(lancome.wecom_userid, back)
    assert simulator.wait_deliveries(timeout=20)
    services.inbox_process(CallbackEvent.objects.get(external_userid=back, change_type="del_follow_user").pk)
    simulator.advance(3600)  # CreateTime (1 s resolution) is part of the dedup key

    events = _adds(simulator, [(known, nike, "entrance"), (back, lancome, "counter:B02"), (twice, lancome, "a"),
                               (twice, nike, "b")])
    events = [e for e in events if e.status == "pending"]
    assert len(events) == 4
    services.inbox_process(events[0].pk)

    assert set(CallbackEvent.objects.filter(pk__in=[e.pk for e in events]).values_list("status", flat=True)) == {"done"}
    assert Member.objects.filter(pk__in=MemberExternalId.objects.filter(
        external_userid__in=[known, back, twice]).values("member_id")).count() == 3
    with schema_context(nike.brand.schema_name):
        assert Relationship.objects.get(member=_member_of(known)).channel == "entrance"
        assert BrandMember.objects.get(member=_member_of(twice)).source_channel == "b"
    with schema_context(lancome.brand.schema_name):
        again = Relationship.objects.get(member=_member_of(back))
        assert (again.status, again.channel, again.readded_count) == ("active", "counter:B02", 1)
        assert Relationship.objects.get(member=_member_of(twice)).channel == "a"
    assert _member_of(twice).first_brand_id == lancome.brand_id
    # each add fetched its customer once, the known ones included (the batch hands its answer over)
    gets = ApiCall.objects.filter(endpoint="externalcontact/get", params__external_userid__in=[known, back, twice])
    assert gets.count() == 2 + 4


def test_a_failing_batch_loses_nothing_and_a_second_run_applies_nothing(simulator, guide_factory, held, monkeypatch):
    lancome, nike = guide_factory("lancome"), guide_factory("nike", name="王强")
    _welcome("lancome")
    for guide in (lancome, nike):
        simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    customers = [simulator.customer(f"客{n}") for n in range(4)]
    events = _adds(simulator, [(c, lancome if n % 2 else nike, "poster") for n, c in enumerate(customers)])

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("guides.services.relationships_create_new", broken)
    assert services.inbox_process(events[0].pk) == "done"

    rows = CallbackEvent.objects.filter(pk__in=[e.pk for e in events]).order_by("id")
    assert [(e.status, e.attempts) for e in rows] == [("done", 1)] * 4  # each applied the one-event way
    assert Member.objects.filter(pk__in=MemberExternalId.objects.filter(external_userid__in=customers)
                                 .values("member_id")).count() == 4
    statuses = sorted(WelcomeDelivery.objects.filter(event__in=events).values_list("status", flat=True))
    assert statuses == ["not_configured", "not_configured", "sent", "sent"]
    counts = (Member.objects.count(), WelcomeDelivery.objects.count(), AuditEvent.objects.count(),
              ApiCall.objects.count(), len(simulator.welcome_messages()))

    assert [process_callback(e.pk) for e in events] == [None] * 4  # run twice: nothing applied twice
    assert services.welcome_send_many(list(WelcomeDelivery.objects.filter(event__in=events)
                                           .values_list("pk", flat=True))) == {}
    assert (Member.objects.count(), WelcomeDelivery.objects.count(), AuditEvent.objects.count(),
            ApiCall.objects.count(), len(simulator.welcome_messages())) == counts


def test_a_batch_late_past_the_window_and_a_refused_welcome(simulator, guide_factory, held):
    guide = guide_factory("lancome")
    template = _welcome("lancome", stock=10)
    simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    late, refused, ok = simulator.customer("迟"), simulator.customer("拒"), simulator.customer("好")
    events = _adds(simulator, [(refused, guide, "p"), (ok, guide, "p")])
    simulator.seed_follows([{"userid": guide.wecom_userid, "external_userid": late}])
    old = CallbackEvent.objects.create(
        corp_id=settings.WECOM_CORP_ID, dedup_key=f"late-{late}", event="change_external_contact",
        change_type="add_external_contact", user_id=guide.wecom_userid, external_userid=late,
        create_time=int(time.time()) - 25, payload={"WelcomeCode": "W-late", "State": "poster"})
    simulator.chat(refused, guide.wecom_userid)  # the customer spoke first: WeCom refuses the welcome (41051)

    services.inbox_process(events[0].pk)

    by_customer = {d.event.external_userid: d for d in WelcomeDelivery.objects.filter(
        event__in=[*events, old]).select_related("event")}
    assert {k: (d.status, d.errcode) for k, d in by_customer.items()} == {
        late: ("code_expired", None), refused: ("already_chatting", 41051), ok: ("sent", 0)}
    with schema_context(guide.brand.schema_name):
        assert list(BrandCoupon.objects.values_list("code", flat=True)) == [by_customer[ok].coupon_code]
        template.refresh_from_db()
    assert template.issued_count == 1  # the refused message's coupon was taken back, its stock with it
    calls = ApiCall.objects.filter(endpoint="externalcontact/send_welcome_msg").order_by("id")
    assert [(c.errcode, c.redrivable) for c in calls] == [(41051, False), (0, False)]  # the refused one recorded
