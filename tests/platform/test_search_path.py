"""TENANT_LIMIT_SET_CALLS is on: django-tenants sends SET search_path once per schema switch, not per query.

PostgreSQL undoes a SET when the transaction or savepoint that issued it rolls back. If the backend kept
believing the path was set, the next query would run in the previous schema: another brand's tables, or
the public schema. These tests make the first query after a switch happen inside a savepoint or
transaction that then rolls back, and check the next query still reads the right brand's rows.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_context

from members.brand.models import BrandCouponTemplate
from tests.live import committed


class Boom(Exception):
    pass


def _names() -> set[str]:
    return set(BrandCouponTemplate.objects.values_list("name", flat=True))


@pytest.fixture
def two_brands_with_rows(brand_a, brand_b):
    with schema_context(brand_a.schema_name):
        BrandCouponTemplate.objects.create(name="A券", kind="cash", value_cents=100, valid_days=7)
    with schema_context(brand_b.schema_name):
        BrandCouponTemplate.objects.create(name="B券", kind="cash", value_cents=100, valid_days=7)
    return brand_a, brand_b


def _search_path() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        return cursor.fetchone()[0]


def test_the_setting_is_on():
    assert settings.TENANT_LIMIT_SET_CALLS is True


@pytest.mark.django_db
def test_a_savepoint_rolled_back_after_the_first_query_does_not_leave_the_previous_schema(two_brands_with_rows):
    brand_a, brand_b = two_brands_with_rows
    with schema_context(brand_b.schema_name):
        assert _names() == {"B券"}  # search_path = brand_b inside the test's transaction
        try:
            with pytest.raises(Boom), transaction.atomic():  # SAVEPOINT, sent under brand_b's path
                connection.set_tenant(brand_a)  # a switch inside a transaction, as a request or task does
                assert _names() == {"A券"}  # SET search_path = brand_a is issued inside the savepoint ...
                raise Boom
            # ... and undone by ROLLBACK TO SAVEPOINT: the database is back on brand_b's path
            assert connection.schema_name == brand_a.schema_name
            assert brand_a.schema_name in _search_path()
            assert _names() == {"A券"}
        finally:
            connection.set_tenant(brand_b)


def test_a_transaction_rolled_back_after_the_first_query_does_not_leave_the_previous_schema(django_db_setup,
                                                                                          django_db_blocker):
    from tenants.models import Brand
    from tests.conftest import BRANDS

    with committed(django_db_blocker):  # autocommit: the SET issued in the atomic block is all that rolls back
        brand_a = Brand.objects.get(slug=BRANDS["brand_a"]["slug"])
        brand_b = Brand.objects.get(slug=BRANDS["brand_b"]["slug"])
        with schema_context(brand_a.schema_name):
            BrandCouponTemplate.objects.create(name="A券", kind="cash", value_cents=100, valid_days=7)
        with schema_context(brand_b.schema_name):
            assert _names() == set()
        with schema_context(brand_a.schema_name):
            with pytest.raises(Boom), transaction.atomic():
                assert _names() == {"A券"}
                raise Boom
            assert brand_a.schema_name in _search_path()
            assert _names() == {"A券"}


@pytest.mark.django_db
def test_one_set_per_switch_not_per_query(two_brands_with_rows):
    from django.test.utils import CaptureQueriesContext

    brand_a, _ = two_brands_with_rows
    with schema_context(brand_a.schema_name), CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            _names()
    sets = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SET search_path")]
    assert len(sets) == 1, sets
