import datetime as dt

from members.brand.models import BrandMember
from members.models import Member
from tenants.models import AuditEvent
from tenants.services import brand_suspend


def test_enroll_creates_both_memberships(api, mall_key, brand_a, make_guide, in_schema):
    guide = make_guide(brand_a, userid="g-lancome-1")
    response = api(key=mall_key).post("/api/v1/members/enroll/", {
        "brand": "lancome", "unionid": "union-1", "phone": "+86 139 1234 5678", "guide": "g-lancome-1",
        "channel": "counter_qr", "name": "王丽", "gender": "female", "birthday": "1990-05-01"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["member_created"] and body["membership_created"]
    assert body["member"]["phone_masked"] == "139****5678"
    assert body["membership"]["source_guide"] == "g-lancome-1"
    assert "phone" not in body["member"]
    with in_schema(brand_a.schema_name):
        assert BrandMember.objects.get().source_guide == guide


def test_second_brand_reuses_the_one_member(api, mall_key, brand_a, brand_b):
    first = api(key=mall_key).post("/api/v1/members/enroll/", {"brand": "lancome", "unionid": "u-2"}, format="json")
    second = api(key=mall_key).post("/api/v1/members/enroll/", {"brand": "nike", "unionid": "u-2"}, format="json")
    assert second.status_code == 201
    assert second.json()["member"]["code"] == first.json()["member"]["code"]
    assert second.json()["member_created"] is False
    assert Member.objects.count() == 1


def test_duplicate_enrolment_is_409_and_writes_nothing(api, mall_key, brand_a):
    api(key=mall_key).post("/api/v1/members/enroll/", {"brand": "lancome", "unionid": "u-3"}, format="json")
    audit_rows = AuditEvent.objects.count()
    response = api(key=mall_key).post("/api/v1/members/enroll/",
                                      {"brand": "lancome", "unionid": "u-3", "phone": "13800001111"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "already_enrolled"
    assert response.json()["member"]["code"]
    assert Member.objects.get().phone_hash is None  # the phone in the duplicate was not written
    assert AuditEvent.objects.count() == audit_rows


def test_bad_inputs_have_codes_and_write_nothing(api, mall_key, brand_a):
    client = api(key=mall_key)
    cases = [
        ({"brand": "lancome", "phone": "12345"}, 400, "invalid_phone"),
        ({"brand": "no-such-brand", "unionid": "x"}, 404, "brand_not_found"),
        ({"brand": "lancome"}, 400, "identity_required"),
        ({"brand": "lancome", "member_code": "1234567890"}, 400, "invalid_member_code"),
        ({"brand": "lancome", "unionid": "x", "guide": "nobody"}, 400, "invalid_guide"),
        ({"unionid": "x"}, 400, "invalid"),
    ]
    for payload, status, code in cases:
        response = client.post("/api/v1/members/enroll/", payload, format="json")
        assert (response.status_code, response.json()["code"]) == (status, code), payload
        assert set(response.json()) >= {"code", "message", "fields"}
    assert Member.objects.count() == 0


def test_malformed_json_is_400(api, mall_key, brand_a):
    response = api(key=mall_key).post("/api/v1/members/enroll/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_suspended_brand_refuses_enrolment(api, mall_key, brand_a):
    brand_suspend(brand=brand_a)
    response = api(key=mall_key).post("/api/v1/members/enroll/", {"brand": "lancome", "unionid": "u"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "brand_suspended"
    assert Member.objects.count() == 0


def test_suspended_brand_api_key_is_refused(api, key_for, brand_a):
    key = key_for(brand_a)
    brand_suspend(brand=brand_a)
    response = api(key=key).get("/api/v1/brands/")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "invalid_api_key"


def test_unauthenticated_gets_error_shape(api, db):
    response = api().get("/api/v1/brands/")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"code", "message", "fields"}


def test_last_used_is_kept_to_the_minute_without_a_write_per_call(api, mall_key, brand_a):
    from django.utils import timezone

    from tenants.models import ApiClient

    client = api(key=mall_key)
    client.get("/api/v1/members/MISSING0000/")
    first = ApiClient.objects.get().last_used_at
    assert first is not None and timezone.now() - first < dt.timedelta(seconds=5)
    client.get("/api/v1/members/MISSING0000/")
    assert ApiClient.objects.get().last_used_at == first  # within the minute: no UPDATE
    ApiClient.objects.update(last_used_at=first - dt.timedelta(minutes=2))
    client.get("/api/v1/members/MISSING0000/")
    assert ApiClient.objects.get().last_used_at > first
