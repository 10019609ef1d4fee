"""Golden path steps 1-3 through the WeCom simulator over real HTTP:
a customer scans a guide's code -> encrypted callback -> stored -> processed -> one code, dual
membership, relationship (lifecycle day 0) and the brand's welcome message inside WeCom's window."""

from django_tenants.utils import schema_context

from guides.brand.models import Relationship
from members.brand.models import BrandCoupon, BrandCouponTemplate, BrandMember
from members.models import Member, MemberExternalId
from tenants.models import Brand
from wecom.models import ApiCall, CallbackEvent, WelcomeDelivery

# No django_db mark: these tests commit (the live server and the simulator see other connections).


def _welcome(slug: str, text: str = "{name}您好，我是{guide}，欢迎加入！", with_coupon: bool = True):
    from wecom.brand.models import WelcomeMessage

    with schema_context(Brand.objects.get(slug=slug).schema_name):
        template = BrandCouponTemplate.objects.create(name="新客礼券 Welcome coupon", kind="cash", value_cents=5000,
                                                      valid_days=30) if with_coupon else None
        WelcomeMessage.objects.create(text=text, coupon_template=template, miniprogram_appid="wxmini0001",
                                      miniprogram_page="pages/coupon/index", miniprogram_title="领取新客礼",
                                      miniprogram_pic_media_id="MEDIA_cover_demo")


def _member_of(external_userid: str) -> Member:
    return Member.objects.get(pk=MemberExternalId.objects.get(external_userid=external_userid).member_id)


def test_scan_enrols_relates_and_welcomes(simulator, guide_factory):
    guide = guide_factory("lancome")
    _welcome("lancome")
    simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    customer = simulator.customer("李雷", unionid="union-lilei", gender=1)

    simulator.scan(customer, userid=guide.wecom_userid, state="counter:A01")
    assert simulator.wait_deliveries(timeout=20)

    event = CallbackEvent.objects.get(external_userid=customer, change_type="add_external_contact")
    member = _member_of(customer)
    brand = guide.brand
    assert (event.status, event.brand_id) == ("done", brand.pk), event.result
    delivery = WelcomeDelivery.objects.get(event=event)
    assert delivery.status == "sent", (delivery.status, delivery.errcode)
    assert (member.name, member.unionid, member.gender, member.first_brand_id) == ("李雷", "union-lilei", "male",
                                                                                 brand.pk)
    with schema_context(brand.schema_name):
        membership = BrandMember.objects.get(member=member)
        relationship = Relationship.objects.get(member=member)
        coupon = BrandCoupon.objects.get(member=member)
    assert (membership.source_guide_id, membership.source_channel) == (guide.pk, "counter:A01")
    assert (relationship.guide_id, relationship.status, relationship.channel) == (guide.pk, "active", "counter:A01")
    delivery = WelcomeDelivery.objects.get(event=event)
    assert (delivery.status, delivery.coupon_code) == ("sent", coupon.code)
    received = simulator.welcome_messages(external_userid=customer)
    assert len(received) == 1
    text = received[0]["text"]["content"]
    assert "李雷您好，我是陈小美" in text and coupon.code in text
    assert received[0]["attachments"][0]["miniprogram"]["page"].endswith(f"coupon={coupon.code}")


def test_one_customer_adds_guides_of_two_brands_and_stays_one_member(simulator, guide_factory):
    lancome_guide, nike_guide = guide_factory("lancome"), guide_factory("nike", name="王强")
    _welcome("lancome", with_coupon=False)
    for guide in (lancome_guide, nike_guide):
        simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    customer = simulator.customer("韩梅梅", unionid="union-hmm")

    simulator.scan(customer, userid=lancome_guide.wecom_userid, state="poster")
    simulator.scan(customer, userid=nike_guide.wecom_userid, state="entrance")
    assert simulator.wait_deliveries(timeout=20)

    member = _member_of(customer)
    assert Member.objects.filter(unionid="union-hmm").count() == 1
    for guide, channel in ((lancome_guide, "poster"), (nike_guide, "entrance")):
        with schema_context(guide.brand.schema_name):
            assert BrandMember.objects.get(member=member).source_channel == channel
            assert Relationship.objects.get(member=member).guide_id == guide.pk
    statuses = dict(WelcomeDelivery.objects.filter(member=member).values_list("brand__slug", "status"))
    assert statuses == {"lancome": "sent", "nike": "not_configured"}


def test_rewritten_state_and_re_add_after_delete(simulator, guide_factory):
    guide = guide_factory("lancome")
    simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    customer = simulator.customer("赵敏")

    simulator.scan(customer, userid=guide.wecom_userid, state="wb:1:spring-sale")
    simulator.customer_deletes_member(customer, guide.wecom_userid)
    assert simulator.wait_deliveries(timeout=20)
    with schema_context(guide.brand.schema_name):
        ended = Relationship.objects.get(guide=guide)
    simulator.member_deletes_customer(guide.wecom_userid, customer)  # clears WeCom's one-way follow
    simulator.advance(3600)  # an hour later (CreateTime, part of the dedup key, has 1 s resolution)
    simulator.scan(customer, userid=guide.wecom_userid, state="counter:B02")
    assert simulator.wait_deliveries(timeout=20)

    with schema_context(guide.brand.schema_name):
        again = Relationship.objects.get(guide=guide)
    assert (ended.channel, ended.status, ended.ended_reason) == ("link:spring-sale", "ended", "deleted_by_customer")
    assert (again.pk, again.status, again.channel, again.readded_count) == (ended.pk, "active", "counter:B02", 1)
    assert again.added_at >= ended.added_at
    assert Member.objects.filter(pk=_member_of(customer).pk).count() == 1


def test_expired_welcome_code_is_recorded_not_retried(simulator, guide_factory):
    guide = guide_factory("lancome")
    _welcome("lancome", with_coupon=True)
    simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    simulator.configure(welcome_code_ttl=0)
    customer = simulator.customer("周芷若")

    simulator.scan(customer, userid=guide.wecom_userid, state="poster")
    assert simulator.wait_deliveries(timeout=20)

    delivery = WelcomeDelivery.objects.get(member=_member_of(customer))
    assert (delivery.status, delivery.errcode) == ("code_expired", 41050)
    with schema_context(guide.brand.schema_name):
        assert BrandCoupon.objects.filter(member=delivery.member).count() == 0  # no coupon promised in vain
    # the refused call is in the call log although the coupon's savepoint was rolled back around it
    call = ApiCall.objects.filter(endpoint="externalcontact/send_welcome_msg").latest("id")
    assert (call.errcode, call.status, call.redrivable) == (41050, "error", False)


def test_a_backlog_late_past_the_window_spends_no_coupon_and_no_call(simulator, guide_factory):
    """Processed more than 20 s after the add (a backlog): the code is surely dead, so no coupon, no WeCom call."""
    import time

    from django.conf import settings

    from wecom import services

    guide = guide_factory("lancome")
    _welcome("lancome", with_coupon=True)
    simulator.member(guide.wecom_userid, name=guide.name, silent=True)
    customer = simulator.customer("张无忌")
    simulator.seed_follows([{"userid": guide.wecom_userid, "external_userid": customer}])
    event = CallbackEvent.objects.create(
        corp_id=settings.WECOM_CORP_ID, dedup_key=f"late-{customer}", event="change_external_contact",
        change_type="add_external_contact", user_id=guide.wecom_userid, external_userid=customer,
        create_time=int(time.time()) - 25, payload={"WelcomeCode": "W-late", "State": "poster"})
    calls_before = len(simulator.calls(endpoint="externalcontact/send_welcome_msg"))

    services.inbox_process(event.pk)

    delivery = WelcomeDelivery.objects.get(event=event)
    assert (delivery.status, delivery.errcode) == ("code_expired", None)
    assert len(simulator.calls(endpoint="externalcontact/send_welcome_msg")) == calls_before
    assert not ApiCall.objects.filter(endpoint="externalcontact/send_welcome_msg").exists()
    with schema_context(guide.brand.schema_name):
        assert BrandCoupon.objects.filter(member=delivery.member).count() == 0
        assert Relationship.objects.filter(member=delivery.member, status="active").exists()  # the add itself applied
