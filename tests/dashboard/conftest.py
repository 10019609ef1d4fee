"""Fixtures for the brand dashboard: a test client on a brand's own host."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def brand_client():
    """A client talking to ``brand``'s domain (e.g. lancome.localhost), signed in as ``user`` if given."""

    def make(brand, user=None) -> Client:
        client = Client(HTTP_HOST=f"{brand.slug}.localhost")
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def manager_a(make_user, brand_a):
    return make_user("manager-a", "brand_manager", brand=brand_a)


@pytest.fixture
def lancome(brand_client, brand_a, manager_a):
    """Brand A's manager, signed in on brand A's dashboard."""
    return brand_client(brand_a, manager_a)


@pytest.fixture
def brand_coupon_template(in_schema):
    """Make a brand coupon template inside ``brand``'s schema."""
    from members.brand.models import BrandCouponTemplate

    def make(brand, **fields):
        with in_schema(brand.schema_name):
            return BrandCouponTemplate.objects.create(**{"kind": "cash", "valid_days": 30, **fields})

    return make
