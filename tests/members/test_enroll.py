import pytest

from members.brand.models import BrandMember
from members.models import Member
from scrm.errors import AppError


def test_enroll_creates_member_and_brand_membership(brand_a, make_guide, enroll, in_schema):
    guide = make_guide(brand_a)
    result = enroll(brand_a, guide=guide, channel="qr:counter", external_userid="wmEXT1", phone="138 0013 8000")
    assert result.member_created and result.membership_created
    member = Member.objects.get()
    assert member.phone_masked == "138****8000"
    assert member.first_brand == brand_a and member.first_guide == guide
    with in_schema(brand_a.schema_name):
        assert BrandMember.objects.get().source_guide == guide


def test_enroll_is_idempotent(brand_a, enroll):
    first = enroll(brand_a, unionid="u1")
    again = enroll(brand_a, unionid="u1")
    assert again.member.pk == first.member.pk
    assert not again.member_created and not again.membership_created


def test_invalid_phone_writes_nothing(brand_a, enroll):
    with pytest.raises(AppError) as err:
        enroll(brand_a, phone="12345")
    assert err.value.code == "invalid_phone"
    assert Member.objects.count() == 0
