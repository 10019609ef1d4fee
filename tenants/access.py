"""Who is asking, and what they may see. Every read of scoped data goes through these helpers.

Schemas already separate brands; inside the mall (public schema) rows of several brands live
side by side (guides, counters, members), so every public read is filtered by the principal.
"""

from __future__ import annotations

from dataclasses import dataclass

from scrm.errors import Forbidden, NotFound

from .models import MALL_ROLES, ApiClient, Brand, Role


@dataclass(frozen=True)
class Principal:
    """The identity behind a request: a staff login or an API client."""

    actor: str
    role: str
    brand_id: int | None = None
    guide_id: int | None = None
    is_authenticated: bool = True  # lets DRF treat an API client as request.user

    @property
    def is_mall(self) -> bool:
        return self.role in MALL_ROLES or self.role == "integration_mall"

    @property
    def can_write(self) -> bool:
        return self.role != Role.MALL_ANALYST

    @property
    def is_guide(self) -> bool:
        return self.role == Role.GUIDE

    def require_write(self) -> None:
        if not self.can_write:
            raise Forbidden("This account is read-only. 只读账号不能修改数据。", code="read_only")

    def require_mall(self) -> None:
        if not self.is_mall:
            raise Forbidden("Only mall staff may do this. 仅商场员工可操作。", code="mall_only")


SYSTEM = Principal(actor="system", role=Role.MALL_ADMIN)


def principal_for_user(user) -> Principal | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if isinstance(user, Principal):
        return user
    role = getattr(user, "staff_role", None)
    if role is None:
        if user.is_superuser:
            return Principal(actor=f"user:{user.pk}", role=Role.MALL_ADMIN)
        return None
    return Principal(actor=f"user:{user.pk}", role=role.role, brand_id=role.brand_id, guide_id=role.guide_id)


def principal_for_client(client: ApiClient) -> Principal:
    if client.brand_id is None:
        return Principal(actor=f"api:{client.key_prefix}", role="integration_mall")
    return Principal(actor=f"api:{client.key_prefix}", role="integration_brand", brand_id=client.brand_id)


def principal_of(request) -> Principal:
    principal = principal_for_user(getattr(request, "user", None))
    if principal is None:
        raise Forbidden("No role is assigned to this account. 该账号未分配角色。", code="no_role")
    return principal


def brands_visible(principal: Principal):
    qs = Brand.objects.all()
    return qs if principal.is_mall else qs.filter(pk=principal.brand_id)


def brand_get(principal: Principal, slug: str) -> Brand:
    """A brand the principal may see; 404 (never 403) for others so existence does not leak."""
    brand = brands_visible(principal).filter(slug=slug).first()
    if brand is None:
        raise NotFound("Brand not found. 品牌不存在。", code="brand_not_found")
    return brand
