"""Reads for guides: a guide sees only their own customers."""

from __future__ import annotations

from django.db.models import QuerySet

from scrm.errors import NotFound

from .models import Guide, GuideStatus


def guides_for_picker() -> QuerySet:
    """Active guides of active brands (the demo sidebar login)."""
    return (Guide.objects.filter(status=GuideStatus.ACTIVE, brand__status="active")
            .select_related("brand", "counter__store").order_by("brand__name", "name"))


def guide_customers(*, guide: Guide, q: str = "") -> QuerySet:
    """The guide's active customer relationships in the current (guide's brand) schema."""
    from members.selectors import member_filter_query

    from .brand.models import Relationship, RelationshipStatus

    queryset = (Relationship.objects.filter(guide=guide, status=RelationshipStatus.ACTIVE)
                .select_related("member").order_by("-added_at", "-id"))
    return member_filter_query(queryset, q, prefix="member__")


def guide_customer_get(*, guide: Guide, code: str):
    """One of the guide's own customers; 404 for anyone else's (even in the same brand)."""
    relationship = guide_customers(guide=guide).filter(member__code=code).first()
    if relationship is None:
        raise NotFound("Customer not found. 客户不存在。", code="customer_not_found")
    return relationship


def guides_active_count(*, brand) -> int:
    """Active guides of one brand (the guide directory is public; filtered by brand)."""
    return Guide.objects.filter(brand=brand, status=GuideStatus.ACTIVE).count()
