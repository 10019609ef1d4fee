"""onboard_brand, brand_status, create_api_client: services behind a command line that names bad arguments."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tenants.models import ApiClient, AuditEvent, Brand, BrandStatus, Domain
from tenants.services import api_client_authenticate


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'brand\\_%%'")
        return {row[0] for row in cursor.fetchall()}


def _written() -> tuple:
    return Brand.objects.count(), Domain.objects.count(), ApiClient.objects.count(), AuditEvent.objects.count(), \
        _schemas()


def test_onboard_brand_creates_schema_and_domain(db):
    out = _run("onboard_brand", "--name", "优衣库", "--slug", "uniqlo", "--category", "apparel", "--name-en", "Uniqlo")

    brand = Brand.objects.get(slug="uniqlo")
    assert "brand_uniqlo" in out and "uniqlo.localhost" in out
    assert (brand.name, brand.name_en, brand.category) == ("优衣库", "Uniqlo", "apparel")
    assert "brand_uniqlo" in _schemas()


@pytest.mark.parametrize(("args", "named"), [
    (["--name", "坏品牌", "--slug", "Bad Slug", "--category", "apparel"], "--slug"),
    (["--name", "坏品牌", "--slug", "ab", "--category", "apparel"], "--slug"),
    (["--name", "坏品牌", "--slug", "admin", "--category", "apparel"], "--slug"),
    (["--name", "坏品牌", "--slug", "-dash", "--category", "apparel"], "--slug"),
    (["--name", "  ", "--slug", "goodslug", "--category", "apparel"], "--name"),
    (["--name", "坏品牌", "--slug", "goodslug", "--category", "toys"], "--category"),
    (["--name", "兰蔻", "--slug", "lancome", "--category", "cosmetics"], "--slug"),  # already taken
    (["--slug", "goodslug", "--category", "apparel"], "--name"),                     # missing
])
def test_onboard_brand_bad_arguments_name_the_argument_and_write_nothing(db, args, named):
    before = _written()

    with pytest.raises(CommandError) as error:
        _run("onboard_brand", *args)

    assert named in str(error.value)
    assert _written() == before


def test_brand_status_suspends_and_resumes(brand_b):
    suspended = _run("brand_status", "nike", "--suspend")
    brand_b.refresh_from_db()
    status_after_suspend = brand_b.status
    _run("brand_status", "NIKE", "--resume")
    brand_b.refresh_from_db()

    assert status_after_suspend == BrandStatus.SUSPENDED and "Suspended" in suspended
    assert brand_b.status == BrandStatus.ACTIVE


@pytest.mark.parametrize(("args", "named"), [
    (["nosuchbrand", "--suspend"], "SLUG"),
    (["nike"], "--suspend"),                           # one of --suspend / --resume is required
    (["nike", "--suspend", "--resume"], "--resume"),   # not both
])
def test_brand_status_bad_arguments(brand_b, args, named):
    before = _written()

    with pytest.raises(CommandError) as error:
        _run("brand_status", *args)

    assert named in str(error.value)
    assert _written() == before
    brand_b.refresh_from_db()
    assert brand_b.status == BrandStatus.ACTIVE


@pytest.mark.parametrize("brand_args", [[], ["--brand", "lancome"]])
def test_create_api_client_prints_the_key_once(brand_a, brand_args):
    out = _run("create_api_client", "--name", "POS 收银", *brand_args)

    key = out.strip().splitlines()[-1]
    client = api_client_authenticate(key)
    assert client is not None and client.name == "POS 收银"
    assert client.brand == (brand_a if brand_args else None)
    assert client.key_hash not in out


@pytest.mark.parametrize(("args", "named"), [
    (["--name", "POS", "--brand", "nosuchbrand"], "--brand"),
    (["--name", "   "], "--name"),
    (["--name", "x" * 101], "--name"),
])
def test_create_api_client_bad_arguments(db, args, named):
    before = _written()

    with pytest.raises(CommandError) as error:
        _run("create_api_client", *args)

    assert named in str(error.value)
    assert _written() == before
