"""Shared fixtures: two brand schemas created once per session and reused (schemas are slow)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django_tenants.utils import schema_context

BRANDS = {
    "brand_a": dict(name="兰蔻 Lancôme", name_en="Lancome", slug="lancome", category="cosmetics"),
    "brand_b": dict(name="耐克 Nike", name_en="Nike", slug="nike", category="shoes"),
}


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_keepdb):
    """The test database, always (pytest-django only creates it when some test has a django_db mark,
    and the end-to-end tests must not have one: they commit), plus the two session brands."""
    from django.test.utils import setup_databases, teardown_databases

    from tenants.models import Brand
    from tenants.services import brand_onboard

    with django_db_blocker.unblock():
        db_cfg = setup_databases(verbosity=request.config.option.verbose, interactive=False,
                                 aliases={"default"}, keepdb=django_db_keepdb)
        for spec in BRANDS.values():
            if not Brand.objects.filter(slug=spec["slug"]).exists():
                brand_onboard(**spec)
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(db_cfg, verbosity=request.config.option.verbose)


@pytest.fixture(autouse=True)
def _back_to_public():
    yield
    connection.set_schema_to_public()


@pytest.fixture
def brand_a(db):
    from tenants.models import Brand

    return Brand.objects.get(slug=BRANDS["brand_a"]["slug"])


@pytest.fixture
def brand_b(db):
    from tenants.models import Brand

    return Brand.objects.get(slug=BRANDS["brand_b"]["slug"])


@pytest.fixture
def store(db):
    from tenants.models import Store

    return Store.objects.create(code="S01", name="静安店 Jing'an", city="上海", address="南京西路1618号",
                                latitude="31.229000", longitude="121.446000")


@pytest.fixture
def make_guide(db, store):
    from guides.models import Guide
    from tenants.models import Counter

    counter_seq = iter(range(1, 1000))

    def make(brand, *, userid=None, name="导购", status="active"):
        counter, _ = Counter.objects.get_or_create(
            brand=brand, store=store, defaults={"code": f"C{brand.pk}-{next(counter_seq)}", "name": f"{brand.name} 专柜"})
        userid = userid or f"g-{brand.slug}-{Guide.objects.count() + 1}"
        return Guide.objects.create(wecom_userid=userid, name=name, brand=brand, counter=counter, status=status,
                                    hired_on=dt.date(2025, 1, 1),
                                    resigned_on=dt.date(2026, 1, 1) if status == "resigned" else None)

    return make


@pytest.fixture
def enroll():
    from members.services import Identity, Profile, member_enroll

    def do(brand, *, guide=None, channel="", profile=None, **identity):
        return member_enroll(brand=brand, identity=Identity(**identity), profile=profile or Profile(),
                             guide=guide, channel=channel)

    return do


@pytest.fixture
def in_schema():
    return schema_context


@pytest.fixture
def make_user(db):
    from django.contrib.auth import get_user_model

    from tenants.models import StaffRole

    def make(username, role, *, brand=None, guide=None, password="pass12345"):
        user = get_user_model().objects.create_user(username=username, password=password)
        StaffRole.objects.create(user=user, role=role, brand=brand, guide=guide)
        return user

    return make
