"""seed_demo: a consistent demo mall (ledgers, tiers, coupons, memberships), and re-running changes nothing.

The mall is seeded once for the module inside a transaction that is rolled back at the end (nothing
is committed, so nothing needs cleaning up); each test runs in a savepoint inside it.
"""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django_tenants.utils import schema_context

from guides.brand.models import Relationship
from guides.models import Guide
from members.brand.models import BrandCoupon, BrandMember
from members.identity import decrypt, lookup_hash, member_code_is_valid, phone_mask
from members.models import (
    Coupon,
    CouponState,
    CouponTemplate,
    Member,
    MemberExternalId,
    PointsEntry,
    TierChange,
)
from members.services import points_earned_12m, tier_for_points
from scrm import demo
from tenants.models import AuditEvent, Brand, Counter, Store
from tenants.services import api_client_authenticate

MEMBERS = 200


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--members", str(MEMBERS), stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        output = _seed()
    yield output
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)
        connection.set_schema_to_public()


@pytest.fixture
def brands(seeded, db):
    return list(Brand.objects.filter(slug__in=[spec[2] for spec in demo.BRANDS]))


def _snapshot(brands) -> dict:
    """Row counts of everything the seed writes, and a checksum of every balance and tier."""
    counts = {model.__name__: model.objects.count() for model in (
        Store, Brand, Counter, Guide, Member, MemberExternalId, PointsEntry, TierChange, Coupon, CouponTemplate,
        AuditEvent, get_user_model())}
    for brand in brands:
        with schema_context(brand.schema_name):
            counts[brand.slug] = (BrandMember.objects.count(), Relationship.objects.count(),
                                  BrandCoupon.objects.count(),
                                  list(BrandCoupon.objects.order_by("code").values_list("code", "state")))
    counts["balances"] = list(Member.objects.order_by("code").values_list("code", "points_balance", "tier"))
    counts["lots"] = list(PointsEntry.objects.order_by("idempotency_key").values_list("idempotency_key", "remaining"))
    counts["issued"] = list(CouponTemplate.objects.order_by("pk").values_list("pk", "issued_count"))
    return counts


def test_seed_creates_the_demo_mall(seeded, brands):
    assert "members 200" in seeded
    assert sorted(b.slug for b in brands) == sorted(spec[2] for spec in demo.BRANDS)
    assert Store.objects.filter(code__in=[s["code"] for s in demo.STORES]).count() == 3
    assert Guide.objects.filter(brand__in=brands).count() == 40
    assert Counter.objects.filter(brand__in=brands).count() == sum(len(spec[4]) for spec in demo.BRANDS)
    assert Member.objects.count() == MEMBERS


def test_session_brands_are_reused_not_duplicated(seeded, brand_a, brand_b):
    assert Brand.objects.filter(slug__in=["lancome", "nike"]).count() == 2
    with schema_context(brand_a.schema_name):
        assert BrandMember.objects.exists()


def test_weekend_hours_of_one_store(seeded, db):
    store = Store.objects.get(code="SH-XJH")
    saturday_late = timezone.make_aware(dt.datetime(2025, 6, 7, 22, 15))
    friday_late = timezone.make_aware(dt.datetime(2025, 6, 6, 22, 15))

    assert store.is_open_at(saturday_late) and not store.is_open_at(friday_late)


def test_every_balance_equals_its_ledger_and_its_open_lots(seeded, db):
    members = Member.objects.annotate(
        ledger=Sum("points_entries__amount"),
        lots=Sum("points_entries__remaining", filter=Q(points_entries__amount__gt=0)),
    )

    mismatched = [m.code for m in members if m.points_balance != (m.ledger or 0) or m.points_balance != (m.lots or 0)]
    assert mismatched == []
    assert PointsEntry.objects.filter(kind="redeem").exists()
    assert PointsEntry.objects.filter(kind="expire").exists()


def test_expired_lots_are_emptied_by_their_expire_entry(seeded, db):
    now = timezone.now()
    expired = PointsEntry.objects.filter(kind="expire")

    assert not PointsEntry.objects.filter(remaining__gt=0, expires_at__lte=now - dt.timedelta(hours=1)).exists()
    for entry in expired:
        lot = PointsEntry.objects.get(pk=int(entry.idempotency_key.split(":")[1]))
        assert lot.member_id == entry.member_id and lot.remaining == 0 and lot.expires_at < entry.created_at


def test_every_tier_follows_the_rules(seeded, db):
    wrong = [m.code for m in Member.objects.all() if m.tier != tier_for_points(points_earned_12m(m))]

    assert wrong == []
    assert set(Member.objects.values_list("tier", flat=True)) >= {"normal", "silver"}
    assert TierChange.objects.filter(is_upgrade=True).exists()


def test_identities_are_well_formed(seeded, db):
    for member in Member.objects.all()[:50]:
        phone = decrypt(member.phone_encrypted)
        assert member_code_is_valid(member.code)
        assert member.phone_hash == lookup_hash(phone) and member.phone_masked == phone_mask(phone)
        assert len(member.name) in (2, 3) and member.birthday is not None
    assert MemberExternalId.objects.count() == MEMBERS


def test_coupons_in_every_state_with_consistent_times(seeded, brands):
    states = set(Coupon.objects.values_list("state", flat=True))
    brand_states = set()
    for brand in brands:
        with schema_context(brand.schema_name):
            brand_states |= set(BrandCoupon.objects.values_list("state", flat=True))
            _assert_coupon_times(BrandCoupon)
    _assert_coupon_times(Coupon)

    assert states == set(CouponState.values) and brand_states == set(CouponState.values)


def _assert_coupon_times(model) -> None:
    now = timezone.now()
    for c in model.objects.all():
        assert c.issued_at < c.valid_until
        assert c.viewed_at is None or c.issued_at <= c.viewed_at <= now
        if c.state == CouponState.REDEEMED:
            assert c.viewed_at <= c.redeemed_at <= c.valid_until and c.redemption_id and c.redeemed_store_id
        if c.state == CouponState.EXPIRED:
            assert c.valid_until < c.expired_at <= now and c.redeemed_at is None
        if c.state in (CouponState.ISSUED, CouponState.VIEWED):
            assert c.redeemed_at is None and c.expired_at is None


def test_members_belong_to_one_to_three_brands_with_a_guide(seeded, brands):
    memberships: dict[int, int] = {}
    now = timezone.now()
    for brand in brands:
        with schema_context(brand.schema_name):
            pairs = list(Relationship.objects.values_list("member_id", "guide__brand_id", "added_at"))
            assert BrandMember.objects.count() == len(pairs)
            assert {brand_id for _m, brand_id, _a in pairs} <= {brand.pk}
            assert all(now - dt.timedelta(days=61) < added <= now for _m, _b, added in pairs)
            for member_id in BrandMember.objects.values_list("member_id", flat=True):
                memberships[member_id] = memberships.get(member_id, 0) + 1

    spread = {count: list(memberships.values()).count(count) for count in set(memberships.values())}
    assert set(spread) == {1, 2, 3} and len(memberships) == MEMBERS
    assert 0.05 < (spread[2] + spread[3]) / MEMBERS < 0.3


def test_templates_count_what_they_issued(seeded, db):
    for template in CouponTemplate.objects.annotate(n=Count("coupons")):
        assert template.issued_count == template.n


def test_demo_logins_and_api_key(seeded, brands):
    users = {u.username: u for u in get_user_model().objects.select_related("staff_role")}
    admin = users["admin"]

    assert admin.is_superuser and admin.is_staff and admin.check_password("admin12345")
    assert admin.staff_role.role == "mall_admin"
    assert users["operator"].staff_role.role == "mall_operator" and users["operator"].check_password("demo12345")
    assert users["analyst"].staff_role.role == "mall_analyst" and users["analyst"].is_staff
    for brand in brands:
        manager = users[f"{brand.slug}-manager"]
        assert manager.staff_role.brand == brand and not manager.is_staff
    assert api_client_authenticate(demo.DEMO_API_KEY).brand is None


def test_second_run_changes_nothing(seeded, brands):
    before = _snapshot(brands)

    output = _seed()

    assert "nothing to add" in output
    assert _snapshot(brands) == before


def test_a_larger_run_only_adds_members_and_keeps_the_first_ones(seeded, brands):
    before = dict(Member.objects.values_list("code", "points_balance"))

    call_command("seed_demo", "--members", str(MEMBERS + 20), stdout=StringIO())

    after = dict(Member.objects.values_list("code", "points_balance"))
    assert len(after) == MEMBERS + 20 and {code: after[code] for code in before} == before


def test_banner_lists_urls_logins_and_key(seeded, brands):
    out = StringIO()
    call_command("demo_banner", "--port", "8123", stdout=out)
    text = out.getvalue()

    for url in ("http://localhost:8123/", "/admin/", "/api/docs/", "/sidebar/", "/healthz",
                "http://lancome.localhost:8123/", "http://goodbaby.localhost:8123/"):
        assert url in text
    assert "admin12345" in text and "nike-manager" in text and demo.DEMO_API_KEY in text


def test_seed_refuses_outside_demo_mode(seeded, db, settings):
    settings.DEMO_MODE = False

    with pytest.raises(CommandError, match="DEMO_MODE"):
        _seed()


@pytest.mark.parametrize("members", ["-1", "abc"])
def test_seed_rejects_a_bad_member_count(seeded, db, members):
    with pytest.raises(CommandError, match="--members"):
        call_command("seed_demo", "--members", members, stdout=StringIO())


def test_demo_campaigns_are_published_and_claimed(seeded, brands):
    from tasks.mall.demo import BRAND_TITLE, MALL_TITLE
    from tasks.mall.models import Campaign, CampaignClaim

    mall = Campaign.objects.get(title=MALL_TITLE)
    own = Campaign.objects.get(title=BRAND_TITLE)
    assert (mall.brand_id, mall.state, own.brand.slug, own.state) == (None, "published", "lancome", "published")
    assert CampaignClaim.objects.filter(campaign=mall).count() > 3
    assert set(CampaignClaim.objects.filter(campaign=own).values_list("guide__brand__slug", flat=True)) == {"lancome"}
