"""A brand never sees another brand's data, whatever API endpoint is used."""

import pytest

from members.brand.models import BrandCouponTemplate
from members.models import Member

BRAND_B_URLS = [
    ("get", "/api/v1/brands/nike/"),
    ("get", "/api/v1/brands/nike/members/"),
    ("get", "/api/v1/brands/nike/members/{code_b}/"),
    ("get", "/api/v1/brands/nike/coupon-templates/"),
    ("post", "/api/v1/brands/nike/coupons/issue/"),
    ("get", "/api/v1/brands/nike/coupons/{coupon_b}/"),
    ("post", "/api/v1/brands/nike/coupons/{coupon_b}/view/"),
    ("post", "/api/v1/brands/nike/coupons/{coupon_b}/redeem/"),
    ("post", "/api/v1/brands/nike/suspend/"),
    ("get", "/api/v1/members/{code_b}/"),
    ("get", "/api/v1/members/{code_b}/qr.svg"),
    ("get", "/api/v1/members/{code_b}/points/"),
    ("get", "/api/v1/members/{code_b}/points/ledger/"),
    ("post", "/api/v1/members/{code_b}/points/earn/"),
    ("get", "/api/v1/members/{code_b}/coupons/"),
]


@pytest.fixture
def two_brands(enroll, brand_a, brand_b, in_schema):
    from members.services import coupon_issue

    member_a = enroll(brand_a, unionid="only-a").member
    member_b = enroll(brand_b, unionid="only-b").member
    with in_schema(brand_b.schema_name):
        template = BrandCouponTemplate.objects.create(name="Nike 9折", kind="discount", discount_percent=90,
                                                      valid_days=7)
        coupon_b = coupon_issue(template=template, member=member_b)
    return {"code_a": member_a.code, "code_b": member_b.code, "coupon_b": coupon_b.code, "template_b": template.pk}


@pytest.fixture(params=["api_key", "brand_manager"])
def brand_a_client(request, api, key_for, make_user, brand_a):
    if request.param == "api_key":
        return api(key=key_for(brand_a))
    return api(user=make_user("mgr-a", "brand_manager", brand=brand_a))


@pytest.mark.parametrize(("method", "url"), BRAND_B_URLS)
def test_brand_a_gets_404_for_brand_b_objects(brand_a_client, two_brands, method, url):
    payload = {"template": two_brands["template_b"], "member": two_brands["code_b"], "amount": 10,
               "idempotency_key": "x", "redemption_id": "x"}
    response = getattr(brand_a_client, method)(url.format(**two_brands), payload, format="json")
    assert response.status_code == 404, (url, response.content[:200])
    assert response.json()["code"] in {"brand_not_found", "member_not_found", "not_found"}


def test_brand_b_rows_never_in_brand_a_lists(brand_a_client, two_brands):
    members = brand_a_client.get("/api/v1/brands/lancome/members/").json()["results"]
    brands = brand_a_client.get("/api/v1/brands/").json()
    assert [m["member"]["code"] for m in members] == [two_brands["code_a"]]
    assert [b["slug"] for b in brands] == ["lancome"]


def test_mall_wide_member_search_is_for_mall_staff(brand_a_client, two_brands):
    response = brand_a_client.get("/api/v1/members/")
    assert (response.status_code, response.json()["code"]) == (403, "mall_only")


def test_brand_key_books_points_to_its_own_brand(api, key_for, brand_a, two_brands):
    response = api(key=key_for(brand_a)).post(
        f"/api/v1/members/{two_brands['code_a']}/points/earn/",
        {"amount": 10, "idempotency_key": "k-1", "brand": "nike"}, format="json")
    assert response.json()["entry"]["brand"] == "lancome"


def test_analyst_reads_but_cannot_write(api, make_user, two_brands):
    client = api(user=make_user("ana", "mall_analyst"))
    read = client.get(f"/api/v1/members/{two_brands['code_b']}/")
    write = client.post(f"/api/v1/members/{two_brands['code_b']}/points/earn/",
                        {"amount": 10, "idempotency_key": "k"}, format="json")
    assert read.status_code == 200
    assert (write.status_code, write.json()["code"]) == (403, "read_only")
    assert Member.objects.get(code=two_brands["code_b"]).points_balance == 0


def test_guides_cannot_use_the_api(api, make_user, make_guide, brand_a, two_brands):
    guide = make_guide(brand_a)
    response = api(user=make_user("guide", "guide", brand=brand_a, guide=guide)).get("/api/v1/brands/lancome/members/")
    assert (response.status_code, response.json()["code"]) == (403, "guide_not_allowed")


def test_mall_staff_see_every_brand(api, make_user, two_brands):
    client = api(user=make_user("op", "mall_operator"))
    assert client.get("/api/v1/brands/nike/members/").status_code == 200
    assert client.get("/api/v1/brands/lancome/members/").status_code == 200
