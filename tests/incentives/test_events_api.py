"""The events API over HTTP: API keys per integration, idempotency, brand isolation, one error shape."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from incentives.brand.models import Order
from incentives.models import ShareLink
from members.models import Member
from tests.incentives.conftest import at

PAID = "/api/v1/events/order-paid/"
REFUNDED = "/api/v1/events/order-refunded/"
SHARE = "/api/v1/events/share/"


@pytest.fixture
def setup(brand_a, make_guide, enroll, link_for):
    guide = make_guide(brand_a)
    member = enroll(brand_a, unionid="u-api-1").member
    return dict(guide=guide, member=member, link=link_for(guide))


def _order(setup, **extra):
    return {"order_id": "MP-1001", "brand": "lancome", "amount_cents": 300000, "paid_at": at(23, 15).isoformat(),
            "channel": "mini_program", "member": setup["member"].code} | extra


def test_share_events_count_once_per_event_id_and_visitor(api, key_for, brand_a, setup):
    client = api(key=key_for(brand_a))
    code = setup["link"].code

    first = client.post(SHARE, {"event_id": "e1", "type": "view", "share_code": code, "visitor": "openid-1"},
                        format="json")
    retry = client.post(SHARE, {"event_id": "e1", "type": "view", "share_code": code, "visitor": "openid-1"},
                        format="json")
    same_visitor = client.post(SHARE, {"event_id": "e2", "type": "view", "share_code": code, "visitor": "openid-1"},
                               format="json")
    like = client.post(SHARE, {"event_id": "e3", "type": "like", "share_code": code, "visitor": "openid-2"},
                       format="json")
    cart = client.post(SHARE, {"event_id": "e4", "type": "add_to_cart", "share_code": code,
                               "member": setup["member"].code}, format="json")

    assert (first.status_code, first.json()["counted"]) == (201, True)
    assert (retry.status_code, retry.json()["replayed"]) == (200, True)
    assert (same_visitor.status_code, same_visitor.json()["counted"]) == (201, False)
    assert like.status_code == cart.status_code == 201
    link = ShareLink.objects.get(pk=setup["link"].pk)
    assert (link.opened, link.liked, link.carted) == (1, 1, 1)


def test_order_paid_through_a_link_then_refunded(api, key_for, brand_a, setup, token_for):
    client = api(key=key_for(brand_a))
    token = token_for(setup["link"], at(23, 14))

    paid = client.post(PAID, _order(setup, share_token=token, customer_lat=31.23, customer_lng=121.447),
                       format="json")
    again = client.post(PAID, _order(setup, share_token=token), format="json")
    refunded = client.post(REFUNDED, {"order_id": "MP-1001", "brand": "lancome"}, format="json")

    assert paid.status_code == 201, paid.json()
    body = paid.json()["order"]
    assert (body["guide"], body["attributed_by"], body["store"], body["member"]) == (
        setup["guide"].wecom_userid, "share_link", "S01", setup["member"].code)
    assert (body["points"], body["commission_cents"], body["cross_time"], body["cross_space"]) == (
        3000, 30000, False, False)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert refunded.status_code == 200
    assert (refunded.json()["order"]["status"], refunded.json()["order"]["points_reversed"]) == ("refunded", 3000)
    assert Member.objects.get(pk=setup["member"].pk).points_balance == 0


def test_a_mall_integration_may_post_for_any_brand(api, mall_key, setup):
    response = api(key=mall_key).post(PAID, _order(setup), format="json")
    assert response.status_code == 201
    assert (response.json()["order"]["attributed_by"], response.json()["order"]["guide"]) == ("none", None)


@pytest.mark.parametrize("payload, field", [
    ({"amount_cents": 0}, "amount_cents"),
    ({"amount_cents": "lots"}, "amount_cents"),
    ({"channel": "tiktok"}, "channel"),
    ({"paid_at": "yesterday"}, "paid_at"),
    ({"order_id": ""}, "order_id"),
])
def test_bad_orders_are_400_with_the_field(api, key_for, brand_a, setup, payload, field):
    response = api(key=key_for(brand_a)).post(PAID, _order(setup, **payload), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]


@pytest.mark.parametrize("payload, code, status", [
    ({"member": "ZZZZZZZZ"}, "unknown_member", 400),
    ({"store": "NOPE"}, "store_not_found", 400),
    ({"customer_lat": 31.2}, "invalid_order", 400),
    ({"brand": "no-such-brand"}, "brand_not_found", 404),
])
def test_orders_naming_unknown_things_are_refused(api, key_for, brand_a, setup, payload, code, status):
    response = api(key=key_for(brand_a)).post(PAID, _order(setup, **payload), format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    with schema_context(brand_a.schema_name):
        assert not Order.objects.exists()  # nothing half-written


def test_bad_share_events(api, key_for, brand_a, setup):
    client = api(key=key_for(brand_a))
    cases = [
        ({"event_id": "x1", "type": "share", "share_code": setup["link"].code, "visitor": "v"}, 400, "invalid"),
        ({"event_id": "x2", "type": "view", "visitor": "v"}, 400, "share_required"),
        ({"event_id": "x3", "type": "view", "share_code": setup["link"].code}, 400, "visitor_required"),
        ({"event_id": "x4", "type": "view", "share_code": "AAAAAAAAAA", "visitor": "v"}, 404, "unknown_share_link"),
        ({"event_id": "x5", "type": "view", "share_token": "forged:sig", "visitor": "v"}, 400, "invalid_share_token"),
    ]
    for payload, status, code in cases:
        response = client.post(SHARE, payload, format="json")
        assert (response.status_code, response.json()["code"]) == (status, code), payload


def test_another_brands_key_sees_nothing_of_lancome(api, key_for, brand_a, brand_b, setup):
    nike = api(key=key_for(brand_b))

    order = nike.post(PAID, _order(setup), format="json")
    event = nike.post(SHARE, {"event_id": "n1", "type": "view", "share_code": setup["link"].code, "visitor": "v"},
                      format="json")
    api(key=key_for(brand_a)).post(PAID, _order(setup), format="json")
    refund = nike.post(REFUNDED, {"order_id": "MP-1001", "brand": "lancome"}, format="json")
    own_brand_refund = nike.post(REFUNDED, {"order_id": "MP-1001", "brand": "nike"}, format="json")

    assert (order.status_code, order.json()["code"]) == (404, "brand_not_found")
    assert (event.status_code, event.json()["code"]) == (404, "unknown_share_link")
    assert (refund.status_code, refund.json()["code"]) == (404, "brand_not_found")
    assert (own_brand_refund.status_code, own_brand_refund.json()["code"]) == (404, "order_not_found")
    assert ShareLink.objects.get(pk=setup["link"].pk).opened == 0


def test_without_a_key_the_events_api_refuses(api, setup):
    response = api().post(PAID, _order(setup), format="json")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"code", "message", "fields"}


def test_the_events_api_is_in_the_openapi_schema(api, mall_key):
    schema = api(key=mall_key).get("/api/schema/?format=json").json()
    for path in (SHARE, PAID, REFUNDED):
        assert path in schema["paths"], path
    paid = schema["paths"][PAID]["post"]
    assert "OrderPaidIn" in str(paid["requestBody"])
    type_ref = schema["components"]["schemas"]["ShareEventIn"]["properties"]["type"]["allOf"][0]["$ref"]
    assert set(schema["components"]["schemas"][type_ref.rsplit("/", 1)[1]]["enum"]) == {"view", "like", "add_to_cart"}


BATCH = "/api/v1/events/share/batch/"


def test_a_batch_is_stored_at_once_idempotently(api, key_for, brand_a, setup, django_assert_max_num_queries):
    client = api(key=key_for(brand_a))
    code = setup["link"].code
    events = [{"event_id": f"b{i}", "type": kind, "share_code": code, "visitor": visitor}
              for i, (kind, visitor) in enumerate([("view", "v1"), ("view", "v1"), ("view", "v2"), ("like", "v1"),
                                                   ("add_to_cart", "v3")])]
    events.append(dict(events[0]))  # the same event twice in one batch

    with django_assert_max_num_queries(16):  # the same few statements whatever the batch size
        first = client.post(BATCH, {"events": events}, format="json")
    again = client.post(BATCH, {"events": events}, format="json")

    assert first.status_code == 200, first.json()
    assert [(r["replayed"], r["counted"]) for r in first.json()["results"]] == [
        (False, True), (False, False), (False, True), (False, True), (False, True), (True, False)]
    assert all(r["replayed"] for r in again.json()["results"])
    link = ShareLink.objects.get(pk=setup["link"].pk)
    assert (link.opened, link.liked, link.carted) == (2, 1, 1)


def test_one_bad_event_refuses_the_whole_batch(api, key_for, brand_a, setup):
    client = api(key=key_for(brand_a))
    events = [{"event_id": "ok-1", "type": "view", "share_code": setup["link"].code, "visitor": "v1"},
              {"event_id": "bad-1", "type": "view", "share_code": "AAAAAAAAAAAA", "visitor": "v1"}]

    response = client.post(BATCH, {"events": events}, format="json")
    too_many = client.post(BATCH, {"events": [events[0]] * 501}, format="json")

    assert (response.status_code, response.json()["code"]) == (404, "unknown_share_link")
    assert "events[1].share_code" in response.json()["fields"]
    assert ShareLink.objects.get(pk=setup["link"].pk).opened == 0
    assert (too_many.status_code, too_many.json()["code"]) == (400, "invalid_batch")


# --------------------------------------------------------------------------- the batch's fast validation

def _texts():
    from hypothesis import strategies as st

    return st.one_of(st.text(max_size=90), st.sampled_from(["", " x", "x ", "a\x00b", "\ud800", "ok-1", "王丽"]),
                     st.integers(), st.none(), st.booleans())


def _events():
    from hypothesis import strategies as st

    field = {"event_id": _texts(), "type": st.one_of(st.sampled_from(["view", "like", "add_to_cart", "buy", ""]),
                                                      st.integers()),
             "share_code": _texts(), "share_token": _texts(), "visitor": _texts(), "member": _texts(),
             "at": st.one_of(st.none(), st.just("2026-05-01T10:00:00+08:00"), st.just("yesterday")),
             "extra": st.integers()}
    event = st.fixed_dictionaries({}, optional=field)
    return st.one_of(event, st.integers(), st.text(max_size=3))


def test_the_fast_batch_validation_agrees_with_the_serializer():
    """Whatever _plain_events accepts, ShareEventBatchIn accepts with the same values; it only ever declines."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from incentives.api import ShareEventBatchIn, _plain_events

    tricky = "ab1 \x00\ud800王"  # spaces (trimmed), NUL and a lone surrogate (refused), non-ASCII (fine)

    def near(limit):  # around the field's max_length
        return st.one_of(st.text(tricky, max_size=limit + 2), st.text("a", min_size=limit - 1, max_size=limit + 1))

    plain_ok = st.fixed_dictionaries({"event_id": near(80),
                                      "type": st.sampled_from(["view", "like", "add_to_cart"]),
                                      "share_code": near(24),
                                      "visitor": st.text(tricky, max_size=66)},
                                     optional={"member": st.text(tricky, max_size=12), "at": st.none()})

    @settings(max_examples=400, deadline=None)
    @given(st.one_of(st.fixed_dictionaries({"events": st.lists(st.one_of(_events(), plain_ok), max_size=4)}),
                     st.fixed_dictionaries({"events": st.lists(plain_ok, max_size=4)}), st.integers(), st.none()))
    def check(data):
        fast = _plain_events(data)
        serializer = ShareEventBatchIn(data=data)
        if fast is not None:
            assert serializer.is_valid(), (data, serializer.errors)
            assert fast == [dict(event) for event in serializer.validated_data["events"]]

    check()


def test_plain_batches_take_the_fast_path():
    from incentives.api import _plain_events

    events = [{"event_id": f"e{i}", "type": "like", "share_code": "ABC", "visitor": "v1"} for i in range(3)]
    assert _plain_events({"events": events}) == [
        {"event_id": f"e{i}", "type": "like", "share_code": "ABC", "share_token": "", "visitor": "v1", "member": "",
         "at": None} for i in range(3)]
    assert _plain_events({"events": [*events, {**events[0], "visitor": " v1"}]}) is None  # the serializer trims
    assert _plain_events({"events": [{**events[0], "at": "2026-05-01T10:00:00+08:00"}]}) is None
