"""Two scans of the same QR code at the same moment make exactly one member (real PostgreSQL)."""

import threading
import uuid

import pytest
from django.db import connection, connections
from django_tenants.utils import schema_context

from members.brand.models import BrandMember
from members.models import Member
from members.services import Identity, member_enroll
from tenants.models import AuditEvent, Brand


def _cleanup(unionid: str) -> None:
    """Runs on its own connection (autocommit): the threads' rows were committed outside the test transaction."""
    try:
        member_ids = list(Member.objects.filter(unionid=unionid).values_list("pk", flat=True))
        with schema_context(Brand.objects.get(slug="lancome").schema_name):
            BrandMember.objects.filter(member_id__in=member_ids).delete()
        AuditEvent.objects.filter(member_id__in=member_ids).delete()
        # raw delete: the ORM collector would look for brand-schema rows from the public schema
        Member.objects.filter(pk__in=member_ids)._raw_delete(using="default")
    finally:
        connections.close_all()


@pytest.mark.django_db
def test_concurrent_enrolments_create_one_member(django_db_blocker):
    unionid = f"race-{uuid.uuid4().hex}"
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results, errors = [], []

    def enrol():
        try:
            brand = Brand.objects.get(slug="lancome")
            barrier.wait(timeout=10)
            results.append(member_enroll(brand=brand, identity=Identity(unionid=unionid, phone="13912345678")))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=enrol) for _ in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        try:
            assert errors == []
            assert len({r.member.pk for r in results}) == 1
            assert Member.objects.filter(unionid=unionid).count() == 1
            assert sum(r.member_created for r in results) == 1
            assert sum(r.membership_created for r in results) == 1
            brand = Brand.objects.get(slug="lancome")
            with schema_context(brand.schema_name):
                assert BrandMember.objects.filter(member__unionid=unionid).count() == 1
        finally:
            cleaner = threading.Thread(target=_cleanup, args=(unionid,))
            cleaner.start()
            cleaner.join(timeout=30)
            connection.set_schema_to_public()
