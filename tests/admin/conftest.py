"""Admin fixtures: a client on the mall host, staff logins per role, and a little of everything."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse

MALL_URLS = "scrm.urls_mall"


def admin_url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args, urlconf=MALL_URLS)


@pytest.fixture
def admin_client_for():
    """A browser on the mall host signed in as ``user``."""

    def make(user) -> Client:
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        return client

    return make


@pytest.fixture
def staff(make_user, brand_a, make_guide):
    """One login per role; all of them may enter the admin (is_staff), only the role decides."""

    def make(username, role, **kwargs):
        user = make_user(username, role, **kwargs)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        return user

    return SimpleNamespace(
        admin=make("ops-admin", "mall_admin"),
        operator=make("ops-operator", "mall_operator"),
        analyst=make("ops-analyst", "mall_analyst"),
        brand_manager=make("lancome-mgr", "brand_manager", brand=brand_a),
        guide=make("lancome-guide", "guide", brand=brand_a, guide=make_guide(brand_a, userid="g-staff")),
    )


@pytest.fixture
def mall_data(brand_a, make_guide, enroll, staff):
    """A member with a WeCom id, points (lots, a tier change), a mall coupon, an API client, audit rows."""
    from members.models import CouponTemplate
    from members.services import Profile, coupon_issue, points_earn
    from tenants.services import api_client_create

    guide = make_guide(brand_a, userid="g-wangfang", name="王芳")
    member = enroll(brand_a, guide=guide, channel="qr:counter", external_userid="wmADMINTEST000000000001",
                    phone="13800138000", unionid="o-admin-test", profile=Profile(name="王丽娜")).member
    other = enroll(brand_a, phone="13900139000", profile=Profile(name="李王芳")).member
    points_earn(member=member, amount=2500, idempotency_key="test:earn:1", brand=brand_a, reason="消费")
    template = CouponTemplate.objects.create(name="满200减20", kind="cash", value_cents=2000, valid_days=30)
    coupon = coupon_issue(template=template, member=member)
    client, key = api_client_create(name="POS")
    member.refresh_from_db()
    return SimpleNamespace(member=member, other=other, guide=guide, coupon=coupon, template=template,
                           api_client=client, api_key=key)
