"""Partial refunds: proportional reversal in whole cents / points, never more than the order, idempotent by refund
id, a full refund after partials takes back only the rest; the API, the report and the leaderboards follow."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db.models import Sum
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incentives import attribution, leaderboards
from incentives.brand.models import CommissionEntry, CommissionRule, Order, OrderRefund
from incentives.models import GuideBalance, RewardEntry, ShareLink
from members.models import Member, PointsEntry
from members.services import points_redeem
from scrm.errors import AppError
from tests.incentives.conftest import at

REFUNDED = "/api/v1/events/order-refunded/"
PAID = "/api/v1/events/order-paid/"


@pytest.fixture
def world(brand_a, make_guide, enroll, link_for):
    with schema_context(brand_a.schema_name):
        CommissionRule.objects.update_or_create(pk=1, defaults={"rate_bp": 1000})  # 10 %
    guide = make_guide(brand_a, name="Ana")
    member = enroll(brand_a, unionid="u-partial-1").member
    return dict(brand=brand_a, guide=guide, member=member, link=link_for(guide))


def _pay(world, order_id="P1", amount=300000, when=None, link=None):
    when = when or at(23, 15)
    token = attribution.share_token_make(link or world["link"], at=when - dt.timedelta(minutes=5))
    return attribution.order_paid(brand=world["brand"], order_id=order_id, amount_cents=amount, paid_at=when,
                                  channel="mini_program", member_code=world["member"].code, share_token=token).order


def _refund(world, order_id="P1", **kw):
    return attribution.order_refunded(brand=world["brand"], order_id=order_id, refunded_at=at(23, 18), **kw)


def _commission_left(world, order_id="P1") -> int:
    with schema_context(world["brand"].schema_name):
        return CommissionEntry.objects.filter(order__order_id=order_id).aggregate(t=Sum("amount_cents"))["t"] or 0


def _balance(guide) -> tuple[int, int]:
    balance = GuideBalance.objects.filter(guide=guide).values_list("coins", "exp").first()
    return balance or (0, 0)


def test_a_third_refunded_takes_back_a_third_of_everything(world):
    _pay(world)  # ¥3,000: 3000 points, ¥300 commission, 300 coins, 600 exp

    result = _refund(world, refund_id="R1", amount_cents=100000)

    order, refund = result.order, result.refund
    assert (order.status, order.refunded_cents, order.net_cents) == ("partially_refunded", 100000, 200000)
    assert (refund.points_reversed, refund.commission_cents, refund.coins, refund.exp) == (1000, 10000, 100, 200)
    assert Member.objects.get(pk=world["member"].pk).points_balance == 2000
    assert _commission_left(world) == 20000
    assert _balance(world["guide"]) == (200, 400)
    link = ShareLink.objects.get(pk=world["link"].pk)
    assert (link.bought, link.sales_cents, link.commission_cents) == (1, 200000, 20000)  # still bought


def test_odd_amounts_round_down_until_the_last_refund_takes_the_rest(world):
    _pay(world, amount=10001)  # 100 points, commission 1000, 10 coins, 20 exp

    parts = [_refund(world, refund_id=f"R{i}", amount_cents=3333).refund for i in (1, 2)]
    rest = _refund(world).refund  # no id, no amount: the rest of the order

    refunds = [*parts, rest]
    assert [r.amount_cents for r in refunds] == [3333, 3333, 3335]
    assert [r.points_reversed for r in refunds] == [33, 33, 34]
    assert [r.commission_cents for r in refunds] == [333, 333, 334]
    assert [(r.coins, r.exp) for r in refunds] == [(3, 6), (3, 7), (4, 7)]
    with schema_context(world["brand"].schema_name):
        order = Order.objects.get(order_id="P1")
    assert (order.status, order.refunded_cents, order.points_reversed, order.commission_reversed_cents,
            order.coins_reversed, order.exp_reversed) == ("refunded", 10001, 100, 1000, 10, 20)
    assert _commission_left(world) == 0 and _balance(world["guide"]) == (0, 0)
    assert Member.objects.get(pk=world["member"].pk).points_balance == 0
    assert ShareLink.objects.get(pk=world["link"].pk).bought == 0


def test_a_full_refund_after_partials_takes_back_only_the_rest_and_is_idempotent(world):
    _pay(world)
    _refund(world, refund_id="R1", amount_cents=50000)

    full = _refund(world)
    again = _refund(world)

    assert (full.replayed, full.refund.amount_cents, full.refund.commission_cents) == (False, 250000, 25000)
    assert (again.replayed, again.refund.pk) == (True, full.refund.pk)
    assert Member.objects.get(pk=world["member"].pk).points_balance == 0
    assert ShareLink.objects.get(pk=world["link"].pk).sales_cents == 0
    with schema_context(world["brand"].schema_name):
        assert OrderRefund.objects.count() == 2


def test_the_same_refund_id_twice_changes_nothing_and_another_amount_is_a_conflict(world):
    _pay(world)
    first = _refund(world, refund_id="R1", amount_cents=50000)
    again = _refund(world, refund_id="R1", amount_cents=50000)
    with pytest.raises(AppError) as error:
        _refund(world, refund_id="R1", amount_cents=60000)

    assert (first.replayed, again.replayed, again.refund.pk) == (False, True, first.refund.pk)
    assert (error.value.code, error.value.status) == ("refund_id_reused", 409)
    assert Member.objects.get(pk=world["member"].pk).points_balance == 2500
    assert RewardEntry.objects.filter(guide=world["guide"], source="order_refunded").count() == 1


@pytest.mark.parametrize("steps, code, status", [
    ([("R1", 300001)], "refund_exceeds_order", 409),
    ([("R1", 200000), ("R2", 100001)], "refund_exceeds_order", 409),
    ([("R1", 300000), ("R2", 1)], "order_already_refunded", 409),
])
def test_refunds_never_add_up_to_more_than_the_order(world, steps, code, status):
    _pay(world)
    *accepted, (last_id, last_amount) = steps
    for refund_id, amount in accepted:
        _refund(world, refund_id=refund_id, amount_cents=amount)
    points_before = Member.objects.get(pk=world["member"].pk).points_balance

    with pytest.raises(AppError) as error:
        _refund(world, refund_id=last_id, amount_cents=last_amount)

    assert (error.value.code, error.value.status) == (code, status)
    with schema_context(world["brand"].schema_name):
        assert OrderRefund.objects.count() == len(accepted)  # nothing half-written
        assert Order.objects.get(order_id="P1").refunded_cents == sum(a for _, a in accepted)
    assert Member.objects.get(pk=world["member"].pk).points_balance == points_before


@pytest.mark.parametrize("kwargs, code, field", [
    ({"amount_cents": 100}, "refund_id_required", "refund_id"),
    ({"refund_id": "R1", "amount_cents": 0}, "invalid_refund", "amount_cents"),
    ({"refund_id": "R1", "lines": []}, "invalid_refund", "lines"),
    ({"refund_id": "R1", "lines": [attribution.RefundLine(sku="", amount_cents=5)]}, "invalid_refund",
     "lines[0].sku"),
    ({"refund_id": "R1", "amount_cents": 100, "lines": [attribution.RefundLine(sku="A", amount_cents=99)]},
     "refund_lines_mismatch", "amount_cents"),
])
def test_bad_refunds_are_refused_with_the_field(world, kwargs, code, field):
    _pay(world)
    with pytest.raises(AppError) as error:
        _refund(world, **kwargs)
    assert (error.value.code, error.value.status, field in error.value.fields) == (code, 400, True)


def test_refund_lines_add_up_to_the_refund(world):
    _pay(world)
    refund = _refund(world, refund_id="R1", lines=[attribution.RefundLine(sku="SKU-1", amount_cents=30000),
                                                    attribution.RefundLine(sku="SKU-2", quantity=2,
                                                                           amount_cents=20000)]).refund
    assert (refund.amount_cents, refund.points_reversed) == (50000, 500)
    assert refund.lines[1] == {"sku": "SKU-2", "quantity": 2, "amount_cents": 20000}


def test_points_spent_in_between_are_taken_back_later_as_far_as_possible(world):
    _pay(world, amount=100000)  # 1000 points
    points_redeem(member=world["member"], amount=900, idempotency_key="gift-partial")  # 100 left

    first = _refund(world, refund_id="R1", amount_cents=50000).refund  # due 500, 100 unspent
    from members.services import points_earn

    points_earn(member=world["member"], amount=1000, idempotency_key="bonus-partial")
    rest = _refund(world).refund  # due: 1000 in all, 100 taken so far

    assert (first.points, first.points_reversed) == (500, 100)
    assert (rest.points, rest.points_reversed) == (900, 900)
    member = Member.objects.get(pk=world["member"].pk)
    assert member.points_balance == PointsEntry.objects.filter(member=member).aggregate(t=Sum("amount"))["t"] == 100


def test_partial_refunds_lower_the_sale_on_its_own_day_and_the_rebuild_agrees(world, clean_redis,
                                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _pay(world, order_id="OLD", amount=70000, when=at(2, 15))  # earlier this month
        _pay(world, order_id="NEW", amount=30000)
    with django_capture_on_commit_callbacks(execute=True):
        _refund(world, order_id="OLD", refund_id="R1", amount_cents=20000)  # refunded on the 23rd
        _refund(world, order_id="NEW", refund_id="R1", amount_cents=5000)

    def score(period, moment):
        key = leaderboards.board_key("sales", period, moment, "brand", world["brand"].pk)
        return clean_redis.zscore(key, world["guide"].pk)

    live = {"nov2": score("today", at(2, 15)), "nov23": score("today", at(23, 15)), "month": score("month", at(23, 15))}
    clean_redis.flushdb()
    leaderboards.leaderboards_rebuild(moment=at(2, 15), metrics=["sales"], periods=["today"])
    leaderboards.leaderboards_rebuild(moment=at(23, 15), metrics=["sales"])
    rebuilt = {"nov2": score("today", at(2, 15)), "nov23": score("today", at(23, 15)),
               "month": score("month", at(23, 15))}

    assert live == {"nov2": 50000, "nov23": 25000, "month": 75000}
    assert rebuilt == live


def test_the_report_counts_partial_refunds(lancome, world):
    _pay(world)
    _refund(world, refund_id="R1", amount_cents=100000)

    rows = lancome.get("/incentives/?from=2026-11-01&to=2026-11-30&group=guide").context["rows"]

    assert [(r["orders"], r["sales"], r["refunded"], r["net"], r["commission"]) for r in rows] == [
        (1, "3000.00", "1000.00", "2000.00", "200.00")]


# --------------------------------------------------------------------------- over HTTP

def test_partial_refund_over_the_api(api, key_for, world):
    client = api(key=key_for(world["brand"]))
    _pay(world, order_id="MP-1")
    body = {"order_id": "MP-1", "brand": "lancome", "refund_id": "RF-1",
            "lines": [{"sku": "SKU-1", "amount_cents": 60000}, {"sku": "SKU-2", "quantity": 2, "amount_cents": 40000}]}

    first = client.post(REFUNDED, body, format="json")
    retry = client.post(REFUNDED, body, format="json")
    too_much = client.post(REFUNDED, {"order_id": "MP-1", "brand": "lancome", "refund_id": "RF-2",
                                      "amount_cents": 200001}, format="json")
    no_id = client.post(REFUNDED, {"order_id": "MP-1", "brand": "lancome", "amount_cents": 100}, format="json")
    rest = client.post(REFUNDED, {"order_id": "MP-1", "brand": "lancome"}, format="json")

    assert first.status_code == 200, first.json()
    order, refund = first.json()["order"], first.json()["refund"]
    assert (order["status"], order["refunded_cents"], order["commission_reversed_cents"]) == (
        "partially_refunded", 100000, 10000)
    assert (refund["refund_id"], refund["amount_cents"], refund["points_reversed"], refund["coins"]) == (
        "RF-1", 100000, 1000, 100)
    assert (retry.status_code, retry.json()["replayed"], retry.json()["refund"]["amount_cents"]) == (200, True, 100000)
    assert (too_much.status_code, too_much.json()["code"]) == (409, "refund_exceeds_order")
    assert too_much.json()["fields"] == {"amount_cents": ["At most 200000."]}
    assert (no_id.status_code, no_id.json()["code"]) == (400, "refund_id_required")
    assert (rest.status_code, rest.json()["order"]["status"], rest.json()["refund"]["amount_cents"]) == (
        200, "refunded", 200000)


def test_another_brands_key_cannot_refund_lancomes_order(api, key_for, brand_b, world):
    _pay(world, order_id="MP-1")
    nike = api(key=key_for(brand_b))

    response = nike.post(REFUNDED, {"order_id": "MP-1", "brand": "nike", "refund_id": "X", "amount_cents": 1},
                         format="json")

    assert (response.status_code, response.json()["code"]) == (404, "order_not_found")
    with schema_context(world["brand"].schema_name):
        assert not OrderRefund.objects.exists()


def test_the_openapi_schema_documents_partial_refunds(api, mall_key):
    schema = api(key=mall_key).get("/api/schema/?format=json").json()
    refunded = schema["paths"][REFUNDED]["post"]
    body = schema["components"]["schemas"]["OrderRefundedIn"]["properties"]

    assert {"refund_id", "amount_cents", "lines"} <= set(body)
    assert {"200", "400", "404", "409"} <= set(refunded["responses"])
    assert "refund_exceeds_order" in refunded["responses"]["409"]["description"]
    assert "refund" in schema["components"]["schemas"]["RefundResultOut"]["properties"]


# --------------------------------------------------------------------------- property

_orders = itertools.count(1)

op = st.one_of(
    st.tuples(st.just("part"), st.integers(1, 1200)),  # per mille of the order: some ask for too much
    st.tuples(st.just("replay"), st.integers(0, 9)),   # an earlier refund id again
    st.tuples(st.just("rest"), st.just(0)),            # the rest of the order, no id
    st.tuples(st.just("spend"), st.integers(1, 5000)),  # the member spends points in between
)


def _floor_share(total, refunded, amount):
    return total if refunded == amount else total * refunded // amount


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=st.integers(1, 5_000_000), rate_bp=st.integers(0, 10000), ops=st.lists(op, min_size=1, max_size=8))
def test_any_sequence_of_refunds_keeps_every_ledger_consistent(world, amount, rate_bp, ops):
    brand, guide, member = world["brand"], world["guide"], world["member"]
    with schema_context(brand.schema_name):
        CommissionRule.objects.filter(pk=1).update(rate_bp=rate_bp)
    n = next(_orders)
    order_id = f"H{n}"
    link = attribution.share_link_create(guide=guide, kind="product", target_id=f"H-{n}", title="t",
                                         target_url="https://s.example.com/")
    paid = _pay(world, order_id=order_id, amount=amount, link=link)
    accepted: dict[str, int] = {}
    for step, (kind, value) in enumerate(ops):
        if kind == "spend":
            available = Member.objects.get(pk=member.pk).points_balance
            if available:
                points_redeem(member=member, amount=min(value, available), idempotency_key=f"h-{n}-{step}")
            continue
        if kind == "replay" and not accepted:
            continue
        if kind == "part":
            refund_id, ask = f"R{step}", max(1, amount * value // 1000)
        elif kind == "replay":
            refund_id = sorted(accepted)[value % len(accepted)]
            ask = accepted[refund_id] if refund_id else None  # the id-less one is replayed without an amount
        else:
            refund_id, ask = "", None
        left = amount - sum(accepted.values())
        try:
            result = _refund(world, order_id=order_id, refund_id=refund_id, amount_cents=ask)
        except AppError as error:  # only ever for asking more than is left, and then nothing was written
            assert (error.status, error.code) == (409, "order_already_refunded" if left == 0 else "refund_exceeds_order")
            assert ask is not None and ask > left
        else:
            if not result.replayed:
                accepted[refund_id] = result.refund.amount_cents
                assert result.refund.amount_cents == (left if ask is None else ask)

        with schema_context(brand.schema_name):
            order = Order.objects.get(order_id=order_id)
            refunds = list(OrderRefund.objects.filter(order=order))
            commission_left = CommissionEntry.objects.filter(order=order).aggregate(t=Sum("amount_cents"))["t"] or 0
        refunded = sum(r.amount_cents for r in refunds)
        assert refunded == order.refunded_cents == sum(accepted.values()) <= amount
        assert order.status == ("paid" if refunded == 0 else "refunded" if refunded == amount else "partially_refunded")
        for total, taken, per_refund in ((order.commission_cents, order.commission_reversed_cents, "commission_cents"),
                                         (order.coins, order.coins_reversed, "coins"),
                                         (order.exp, order.exp_reversed, "exp")):
            assert taken == sum(getattr(r, per_refund) for r in refunds) == _floor_share(total, refunded, amount)
        assert commission_left == order.commission_cents - order.commission_reversed_cents >= 0
        assert order.points_reversed == sum(r.points_reversed for r in refunds)
        assert 0 <= order.points_reversed <= _floor_share(order.points, refunded, amount) <= paid.points
        link_now = ShareLink.objects.get(pk=link.pk)
        assert (link_now.sales_cents, link_now.bought) == (amount - refunded, 0 if refunded == amount else 1)
        assert link_now.commission_cents == order.commission_cents - order.commission_reversed_cents
    entries = RewardEntry.objects.filter(guide=guide).aggregate(c=Sum("coins"), e=Sum("exp"))
    assert _balance(guide) == (entries["c"] or 0, entries["e"] or 0)
    assert _balance(guide)[0] >= 0 and _balance(guide)[1] >= 0
    fresh = Member.objects.get(pk=member.pk)
    ledger = PointsEntry.objects.filter(member=member).aggregate(t=Sum("amount"))["t"] or 0
    assert fresh.points_balance == ledger >= 0


def test_two_refunds_racing_for_the_same_order_never_exceed_it(django_db_setup, django_db_blocker):
    from tests.incentives.test_concurrency import _race, _world
    from tests.live import committed

    with committed(django_db_blocker):
        brand, guide, member, links = _world(1)
        attribution.order_paid(brand=brand, order_id="RACE-R", amount_cents=30000, paid_at=dt.datetime.now(dt.UTC),
                               channel="pos", member_code=member.code,
                               share_token=attribution.share_token_make(links[0]))
        outcomes = []

        def refund(refund_id):
            def run():
                try:
                    attribution.order_refunded(brand=brand, order_id="RACE-R", refund_id=refund_id,
                                               amount_cents=18000)
                    outcomes.append("ok")
                except AppError as error:
                    outcomes.append(error.code)
            return run

        errors = _race([refund("A"), refund("B")])

        try:
            assert errors == []
            assert sorted(outcomes) == ["ok", "refund_exceeds_order"]
            with schema_context(brand.schema_name):
                assert Order.objects.get(order_id="RACE-R").refunded_cents == 18000
            assert ShareLink.objects.get(pk=links[0].pk).sales_cents == 12000
        finally:
            GuideBalance.objects.filter(guide=guide).delete()
