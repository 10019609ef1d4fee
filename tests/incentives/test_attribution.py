"""Order attribution rules, earnings, refunds, idempotency and the cross-time / cross-space flags."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from guides.services import relationship_record
from incentives import attribution
from incentives.brand.models import CommissionEntry, CommissionRule, Order
from incentives.models import AttributionSettings, GuideBalance, ShareLink
from members.models import Member, PointsEntry
from members.services import points_redeem
from scrm.errors import AppError
from tests.incentives.conftest import at


@pytest.fixture
def world(brand_a, make_guide, enroll, link_for):
    """A member who joined lancome through ``first``, now served by ``current``; ``sharer`` has a link."""
    first, current, sharer = (make_guide(brand_a, name=n) for n in ("首位", "当前", "分享"))
    member = enroll(brand_a, guide=first, unionid="u-attr-1").member
    relationship_record(guide=current, member=member, added_at=at(1, 12))
    return dict(brand=brand_a, member=member, first=first, current=current, sharer=sharer, link=link_for(sharer))


def _pay(world, order_id="A1", *, token="", when=None, amount=30000, **extra):
    return attribution.order_paid(brand=world["brand"], order_id=order_id, amount_cents=amount,
                                  paid_at=when or at(23, 15), channel="mini_program",
                                  member_code=world["member"].code, share_token=token, **extra)


def test_share_click_within_the_window_beats_the_current_guide(world, token_for):
    token = token_for(world["link"], at(20, 15))  # 3 days before, window 7

    order = _pay(world, token=token).order

    assert (order.guide_id, order.attributed_by, order.share_link_id) == (world["sharer"].pk, "share_link",
                                                                           world["link"].pk)
    assert (order.counter_id, order.store_id) == (world["sharer"].counter_id, world["sharer"].counter.store_id)


def test_a_click_older_than_the_window_falls_to_the_current_guide(world, token_for):
    AttributionSettings.objects.update_or_create(pk=1, defaults={"click_window_days": 2})
    token = token_for(world["link"], at(20, 15))

    order = _pay(world, token=token).order

    assert (order.guide_id, order.attributed_by, order.share_link_id) == (world["current"].pk, "current_guide", None)


def test_the_current_guide_beats_the_first_guide(world):
    assert _pay(world).order.attributed_by == "current_guide"


def test_without_a_current_guide_the_first_guide_gets_it(world):
    from guides.services import relationship_end

    relationship_end(guide=world["current"], member_id=world["member"].pk, reason="deleted")

    order = _pay(world).order

    assert (order.guide_id, order.attributed_by) == (world["first"].pk, "first_guide")


def test_mall_can_switch_off_the_guide_fallbacks(world):
    AttributionSettings.objects.update_or_create(pk=1, defaults={"use_current_guide": False,
                                                                  "use_first_guide": False})
    order = _pay(world).order
    assert (order.guide_id, order.attributed_by, order.commission_cents, order.coins) == (None, "none", 0, 0)
    assert order.points == 300  # the member still earns


def test_a_view_by_the_member_carries_the_guide_without_a_token(world):
    attribution.share_event_ingest(event_id="ev-1", kind="view", share_code=world["link"].code,
                                   member_code=world["member"].code, at=at(22, 10))
    order = _pay(world).order
    assert (order.guide_id, order.attributed_by) == (world["sharer"].pk, "share_link")


def test_a_link_of_a_resigned_guide_does_not_attribute(world, token_for):
    from guides.models import Guide

    Guide.objects.filter(pk=world["sharer"].pk).update(status="resigned", resigned_on=dt.date(2026, 11, 22))
    assert _pay(world, token=token_for(world["link"], at(22, 10))).order.attributed_by == "current_guide"


def test_a_forged_token_is_ignored(world, token_for):
    token = token_for(world["link"], at(22, 10))
    assert _pay(world, token=token[:-2] + "xx").order.attributed_by == "current_guide"


def test_paid_order_earns_points_commission_coins_and_moves_the_link(world, token_for):
    with schema_context(world["brand"].schema_name):
        CommissionRule.objects.update_or_create(pk=1, defaults={"rate_bp": 1000})  # 10 %

    order = _pay(world, token=token_for(world["link"], at(23, 14)), amount=300000).order  # ¥3,000

    member = Member.objects.get(pk=world["member"].pk)
    assert member.points_balance == 3000 == order.points  # ¥1 = 1 point, on the one mall balance
    assert PointsEntry.objects.get(idempotency_key="order:lancome:A1").brand_id == world["brand"].pk
    assert order.commission_cents == 30000  # ¥300
    with schema_context(world["brand"].schema_name):
        assert list(CommissionEntry.objects.values_list("guide_id", "amount_cents")) == [(world["sharer"].pk, 30000)]
    balance = GuideBalance.objects.get(guide=world["sharer"])
    assert (balance.coins, balance.exp) == (300, 600)  # 10 coins / 20 exp per ¥100
    link = ShareLink.objects.get(pk=world["link"].pk)
    assert (link.bought, link.sales_cents, link.commission_cents) == (1, 300000, 30000)


def test_commission_follows_each_brands_own_rule(world, brand_b, make_guide, token_for, link_for):
    with schema_context(world["brand"].schema_name):
        CommissionRule.objects.update_or_create(pk=1, defaults={"rate_bp": 500})
    with schema_context(brand_b.schema_name):
        CommissionRule.objects.update_or_create(pk=1, defaults={"rate_bp": 2000})
    nike_link = link_for(make_guide(brand_b), target_id="AIR-1")

    lancome = _pay(world, token=token_for(world["link"], at(23, 14)), amount=10000).order
    nike = attribution.order_paid(brand=brand_b, order_id="A1", amount_cents=10000, paid_at=at(23, 15),
                                  channel="pos", share_token=token_for(nike_link, at(23, 14))).order

    assert (lancome.commission_cents, nike.commission_cents) == (500, 2000)


def test_a_repeated_order_paid_changes_nothing(world, token_for):
    token = token_for(world["link"], at(23, 14))
    first = _pay(world, token=token)
    again = _pay(world, token=token)

    assert (first.replayed, again.replayed, again.order.pk) == (False, True, first.order.pk)
    assert Member.objects.get(pk=world["member"].pk).points_balance == 300
    assert GuideBalance.objects.get(guide=world["sharer"]).coins == 30
    assert ShareLink.objects.get(pk=world["link"].pk).bought == 1


def test_the_same_order_id_with_another_amount_is_a_conflict(world):
    _pay(world)
    with pytest.raises(AppError) as error:
        _pay(world, amount=99900)
    assert (error.value.code, error.value.status) == ("order_id_reused", 409)


def test_refund_reverses_points_commission_coins_and_link_counters(world, token_for):
    _pay(world, token=token_for(world["link"], at(23, 14)), amount=300000)

    result = attribution.order_refunded(brand=world["brand"], order_id="A1", refunded_at=at(23, 18))

    assert (result.order.status, result.order.points_reversed, result.replayed) == ("refunded", 3000, False)
    assert Member.objects.get(pk=world["member"].pk).points_balance == 0
    with schema_context(world["brand"].schema_name):
        assert sum(CommissionEntry.objects.values_list("amount_cents", flat=True)) == 0
    balance = GuideBalance.objects.get(guide=world["sharer"])
    assert (balance.coins, balance.exp) == (0, 0)
    link = ShareLink.objects.get(pk=world["link"].pk)
    assert (link.bought, link.sales_cents, link.commission_cents) == (0, 0, 0)
    again = attribution.order_refunded(brand=world["brand"], order_id="A1")
    assert again.replayed and Member.objects.get(pk=world["member"].pk).points_balance == 0


def test_refund_takes_back_only_points_not_yet_spent(world):
    _pay(world, amount=30000)  # 300 points
    points_redeem(member=world["member"], amount=200, idempotency_key="gift-1")

    order = attribution.order_refunded(brand=world["brand"], order_id="A1").order

    assert order.points_reversed == 100
    assert Member.objects.get(pk=world["member"].pk).points_balance == 0


def test_refund_of_an_unknown_order_is_404(world):
    with pytest.raises(AppError) as error:
        attribution.order_refunded(brand=world["brand"], order_id="nope")
    assert (error.value.code, error.value.status) == ("order_not_found", 404)


@pytest.mark.parametrize("when, cross_time", [(at(23, 15), False), (at(23, 23, 30), True), (at(24, 9, 59), True)])
def test_orders_placed_while_the_store_is_closed_are_cross_time(world, when, cross_time):
    assert _pay(world, when=when).order.cross_time is cross_time  # store opens 10:00-22:00


@pytest.mark.parametrize("lat, lng, cross_space", [
    (31.2300, 121.4470, False),  # across the street
    (31.0000, 121.4460, True),   # ~25 km south
    (None, None, False),         # location unknown
])
def test_orders_from_far_away_are_cross_space(world, lat, lng, cross_space):
    order = _pay(world, customer_lat=lat, customer_lng=lng).order
    assert order.cross_space is cross_space
    assert (order.distance_km is None) is (lat is None)


def test_orders_stay_in_their_brands_schema(world, brand_b):
    _pay(world)
    with schema_context(brand_b.schema_name):
        assert not Order.objects.exists()
    with schema_context(world["brand"].schema_name):
        assert Order.objects.filter(order_id="A1").exists()


def test_another_brands_link_never_attributes(world, brand_b, token_for):
    """A lancome link carried to a nike checkout: nike's order is not the lancome guide's."""
    order = attribution.order_paid(brand=brand_b, order_id="N1", amount_cents=10000, paid_at=at(23, 15),
                                   channel="pos", member_code=world["member"].code,
                                   share_token=token_for(world["link"], at(23, 14))).order
    assert (order.guide_id, order.attributed_by) == (None, "none")
    assert ShareLink.objects.get(pk=world["link"].pk).bought == 0
