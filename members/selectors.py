"""Reads for members, always scoped: a brand sees its own members, a guide only their customers."""

from __future__ import annotations

import re

from django.db.models import QuerySet

from scrm.errors import AppError, NotFound
from tenants.access import Principal

from .identity import lookup_hash, member_code_is_valid, phone_normalize
from .models import Coupon, Member, PointsEntry


def member_filter_query(queryset: QuerySet, q: str, *, prefix: str = "") -> QuerySet:
    """Search by member code (exact), phone (exact, through the keyed hash) or name prefix.

    Each form is an index lookup, so search stays fast on millions of members.
    """
    q = (q or "").strip()
    if not q:
        return queryset
    if member_code_is_valid(q):
        return queryset.filter(**{f"{prefix}code": q})
    if re.fullmatch(r"[+\d\s\-()]{11,20}", q):
        try:
            return queryset.filter(**{f"{prefix}phone_hash": lookup_hash(phone_normalize(q))})
        except AppError:  # looks like a phone but is not a valid one: nobody matches
            return queryset.none()
    return queryset.filter(**{f"{prefix}name__startswith": q})


def brand_members(*, q: str = "", tag: str = "") -> QuerySet:
    """Brand memberships of the current brand schema, newest first, with the mall identity."""
    from .brand.models import BrandMember

    queryset = BrandMember.objects.select_related("member", "source_guide").order_by("-joined_at", "-id")
    if tag:
        queryset = queryset.filter(tags__contains=[tag])
    return member_filter_query(queryset, q, prefix="member__")


def brand_member_get(*, code: str):
    """The current brand's membership of the member with ``code``; 404 if not this brand's member."""
    from .brand.models import BrandMember

    brand_member = BrandMember.objects.select_related("member", "source_guide").filter(member__code=code).first()
    if brand_member is None:
        raise NotFound("Member not found in this brand. 本品牌无此会员。", code="member_not_found")
    return brand_member


def member_get(*, principal: Principal, code: str) -> Member:
    """A member the principal may see: mall roles see all; brand roles only their brand's members."""
    from django_tenants.utils import schema_context

    from tenants.models import Brand

    member = Member.objects.filter(code=code).first()
    if member is None:
        raise NotFound("Member not found. 会员不存在。", code="member_not_found")
    if principal.is_mall:
        return member
    brand = Brand.objects.filter(pk=principal.brand_id).first()
    if brand is None:
        raise NotFound("Member not found. 会员不存在。", code="member_not_found")
    from .brand.models import BrandMember

    with schema_context(brand.schema_name):
        if not BrandMember.objects.filter(member=member).exists():
            raise NotFound("Member not found. 会员不存在。", code="member_not_found")
    return member


def points_history(*, member: Member, limit: int = 50) -> list[PointsEntry]:
    return list(PointsEntry.objects.filter(member=member).select_related("brand").order_by("-created_at", "-id")[:limit])


def mall_coupons(*, member: Member) -> QuerySet:
    return Coupon.objects.filter(member=member).select_related("template").order_by("-issued_at")


def brand_coupons(*, member: Member) -> QuerySet:
    """The current brand schema's coupons of the member."""
    from .brand.models import BrandCoupon

    return BrandCoupon.objects.filter(member=member).select_related("template").order_by("-issued_at")


def brand_member_counts(*, since) -> dict:
    """Dashboard counts of the current brand schema's memberships, without a slow COUNT(*).

    Above 100,000 rows the total is PostgreSQL's planner estimate (free); below, an exact count.
    ``since`` counts the memberships joined after a moment (an index range scan on joined_at).
    """
    from scrm.pagination import estimated_table_rows

    from .brand.models import BrandMember

    estimate = estimated_table_rows(BrandMember._meta.db_table)
    is_estimate = estimate > 100_000
    total = estimate if is_estimate else BrandMember.objects.count()
    return {"total": total, "total_is_estimate": is_estimate,
            "since": BrandMember.objects.filter(joined_at__gte=since).count()}


def tier_names() -> dict[str, str]:
    """Tier code -> display name (e.g. "gold" -> "金卡 Gold"); a handful of rows."""
    from .models import TierRule

    return dict(TierRule.objects.values_list("code", "name"))
