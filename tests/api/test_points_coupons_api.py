import datetime as dt

import pytest
from django.utils import timezone

from members.brand.models import BrandCouponTemplate
from members.models import CouponTemplate, PointsEntry, TierChange


@pytest.fixture
def member_a(enroll, brand_a):
    return enroll(brand_a, unionid="pts-1").member


def test_earn_then_replay_then_redeem(api, mall_key, member_a):
    client = api(key=mall_key)
    url = f"/api/v1/members/{member_a.code}/points/"
    earned = client.post(url + "earn/", {"amount": 500, "idempotency_key": "order-1", "brand": "lancome"},
                         format="json")
    replay = client.post(url + "earn/", {"amount": 500, "idempotency_key": "order-1", "brand": "lancome"},
                         format="json")
    redeemed = client.post(url + "redeem/", {"amount": 200, "idempotency_key": "redeem-1"}, format="json")
    assert (earned.status_code, replay.status_code, redeemed.status_code) == (201, 200, 201)
    assert replay.json()["replayed"] is True
    assert redeemed.json()["balance"] == 300
    assert client.get(url).json() == {"member": member_a.code, "balance": 300, "available": 300,
                                      "earned_12m": 500, "tier": "normal"}
    assert earned.json()["entry"]["brand"] == "lancome"


def test_redeeming_more_than_available_is_409_and_writes_nothing(api, mall_key, member_a):
    client = api(key=mall_key)
    url = f"/api/v1/members/{member_a.code}/points/"
    client.post(url + "earn/", {"amount": 100, "idempotency_key": "o-1"}, format="json")
    response = client.post(url + "redeem/", {"amount": 101, "idempotency_key": "r-1"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_points"
    assert PointsEntry.objects.filter(member=member_a).count() == 1


def test_idempotency_key_reuse_with_other_amount_is_409(api, mall_key, member_a):
    client = api(key=mall_key)
    url = f"/api/v1/members/{member_a.code}/points/earn/"
    client.post(url, {"amount": 100, "idempotency_key": "o-1"}, format="json")
    response = client.post(url, {"amount": 999, "idempotency_key": "o-1"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"


def test_earning_past_threshold_upgrades_tier_with_event(api, mall_key, member_a):
    response = api(key=mall_key).post(f"/api/v1/members/{member_a.code}/points/earn/",
                                      {"amount": 2500, "idempotency_key": "big-order"}, format="json")
    assert response.json()["tier"] == "silver"
    change = TierChange.objects.get(member=member_a)
    assert (change.from_tier, change.to_tier, change.is_upgrade) == ("normal", "silver", True)


@pytest.mark.parametrize("amount", [0, -5, "ten", 1.5])
def test_invalid_amounts(api, mall_key, member_a, amount):
    response = api(key=mall_key).post(f"/api/v1/members/{member_a.code}/points/earn/",
                                      {"amount": amount, "idempotency_key": "k"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid", "invalid_amount"}


def test_adjust_is_for_mall_staff_only(api, mall_key, make_user, member_a):
    operator = make_user("op", "mall_operator")
    staff = api(user=operator).post(f"/api/v1/members/{member_a.code}/points/adjust/",
                                    {"amount": 50, "idempotency_key": "adj-1", "reason": "补录 make-up"},
                                    format="json")
    integration = api(key=mall_key).post(f"/api/v1/members/{member_a.code}/points/adjust/",
                                         {"amount": 50, "idempotency_key": "adj-2", "reason": "x"}, format="json")
    assert staff.status_code == 201
    assert (integration.status_code, integration.json()["code"]) == (403, "mall_staff_only")


def _mall_template(**extra):
    return CouponTemplate.objects.create(name="满200减30", kind="cash", value_cents=3000, threshold_cents=20000,
                                         valid_days=30, **extra)


def test_mall_coupon_funnel_and_idempotent_redemption(api, mall_key, member_a, store):
    client = api(key=mall_key)
    template = _mall_template()
    issued = client.post("/api/v1/coupons/issue/", {"template": template.pk, "member": member_a.code}, format="json")
    code = issued.json()["code"]
    viewed = client.post(f"/api/v1/coupons/{code}/view/")
    first = client.post(f"/api/v1/coupons/{code}/redeem/",
                        {"redemption_id": "pos-1", "store": store.code, "order_amount_cents": 25000}, format="json")
    retry = client.post(f"/api/v1/coupons/{code}/redeem/", {"redemption_id": "pos-1"}, format="json")
    again = client.post(f"/api/v1/coupons/{code}/redeem/", {"redemption_id": "pos-2"}, format="json")
    assert issued.status_code == 201 and viewed.json()["state"] == "viewed"
    assert (first.status_code, retry.status_code, retry.json()["replayed"]) == (201, 200, True)
    assert (again.status_code, again.json()["code"]) == (409, "coupon_already_redeemed")
    coupon = first.json()["coupon"]
    assert coupon["state"] == "redeemed" and coupon["viewed_at"] and coupon["redeemed_at"]


def test_coupon_rules(api, mall_key, member_a):
    client = api(key=mall_key)
    out_of_stock = _mall_template(stock=1)
    client.post("/api/v1/coupons/issue/", {"template": out_of_stock.pk, "member": member_a.code}, format="json")
    second = client.post("/api/v1/coupons/issue/", {"template": out_of_stock.pk, "member": member_a.code},
                         format="json")
    code = client.post("/api/v1/coupons/issue/", {"template": _mall_template().pk, "member": member_a.code},
                       format="json").json()["code"]
    below = client.post(f"/api/v1/coupons/{code}/redeem/", {"redemption_id": "p1", "order_amount_cents": 100},
                        format="json")
    unknown = client.post("/api/v1/coupons/NOPE/redeem/", {"redemption_id": "p2"}, format="json")
    assert (second.status_code, second.json()["code"]) == (409, "coupon_out_of_stock")
    assert (below.status_code, below.json()["code"]) == (409, "coupon_threshold_not_met")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "coupon_not_found")


def test_expired_coupon_cannot_be_redeemed(api, mall_key, member_a):
    from members.models import Coupon, CouponState
    from members.services import coupons_expire_due

    client = api(key=mall_key)
    code = client.post("/api/v1/coupons/issue/", {"template": _mall_template().pk, "member": member_a.code},
                       format="json").json()["code"]
    coupons_expire_due(model=Coupon, now=timezone.now() + dt.timedelta(days=31))
    response = client.post(f"/api/v1/coupons/{code}/redeem/", {"redemption_id": "late"}, format="json")
    assert Coupon.objects.get(code=code).state == CouponState.EXPIRED
    assert (response.status_code, response.json()["code"]) == (409, "coupon_expired")


def test_brand_coupon_through_brand_key(api, key_for, brand_a, member_a, in_schema):
    with in_schema(brand_a.schema_name):
        template = BrandCouponTemplate.objects.create(name="兰蔻新客礼", kind="discount", discount_percent=85,
                                                      valid_days=14)
    client = api(key=key_for(brand_a))
    issued = client.post("/api/v1/brands/lancome/coupons/issue/", {"template": template.pk, "member": member_a.code},
                         format="json")
    code = issued.json()["code"]
    redeemed = client.post(f"/api/v1/brands/lancome/coupons/{code}/redeem/", {"redemption_id": "b-1"}, format="json")
    listed = client.get(f"/api/v1/members/{member_a.code}/coupons/")
    assert issued.status_code == 201 and issued.json()["scope"] == "brand"
    assert redeemed.status_code == 201
    assert [c["code"] for c in listed.json()] == [code]
