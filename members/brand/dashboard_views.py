"""The brand dashboard (品牌后台) on the brand's own domain, e.g. lancome.localhost.

The tenant middleware has already put the connection in the brand's schema and set
``request.tenant`` to the Brand. Staff accounts live in the public schema. Every view re-checks
the signed-in account against ``request.tenant`` on every request: a session cookie taken from
one brand's host and replayed on another must open nothing there.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from functools import wraps
from urllib.parse import urlencode

import segno
from django import forms
from django.contrib.auth import logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from guides.selectors import guides_active_count
from members.selectors import (
    brand_coupons,
    brand_member_counts,
    brand_member_get,
    brand_members,
    mall_coupons,
    points_history,
    tier_names,
)
from scrm.errors import NotFound
from scrm.pagination import page_without_count
from tenants.access import Principal, principal_for_user
from tenants.models import MALL_ROLES, Brand, Role, SharingPolicy

logger = logging.getLogger(__name__)

PAGE_SIZE = 20
LATEST_ENROLMENTS = 10
POINTS_HISTORY_ROWS = 20
COUPON_ROWS = 50


# --------------------------------------------------------------------------- access

def dashboard_principal(user, brand: Brand) -> Principal | None:
    """The principal if ``user`` may use ``brand``'s dashboard, else None.

    A brand manager of this brand may; mall staff may only when the brand shares everything
    with the mall (sharing policy "full"). Guides and other brands' managers may not.
    """
    principal = principal_for_user(user)
    if principal is None:
        return None
    if principal.role == Role.BRAND_MANAGER and principal.brand_id == brand.pk:
        return principal
    if principal.role in MALL_ROLES and brand.sharing_policy == SharingPolicy.FULL:
        return principal
    return None


def _brand_suspended(request) -> HttpResponse:
    return render(request, "errors/brand_suspended.html", {"brand": request.tenant}, status=403)


def _not_found(request, message: str) -> HttpResponse:
    return render(request, "errors/404.html", {"message": message, "layout": "dashboard/layout.html"},
                  status=404)


def brand_dashboard_view(view):
    """Gate for every dashboard page: brand active, signed in, and allowed on *this* brand."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        brand = request.tenant
        if not brand.is_active:
            return _brand_suspended(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("dashboard:login"))
        principal = dashboard_principal(request.user, brand)
        if principal is None:
            logger.warning("dashboard.access_refused",
                           extra={"tenant": brand.schema_name, "user_id": request.user.pk})
            return render(request, "errors/no_access.html", {"brand": brand}, status=403)
        request.principal = principal
        request.principal_role_label = Role(principal.role).label
        return view(request, *args, **kwargs)

    return wrapper


class BrandLoginForm(AuthenticationForm):
    """Django's login form plus the brand rule; the refusal never says whether the brand has the user."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "用户名或密码不正确 · Wrong username or password.",
        "no_access": "此账号无权登录本品牌后台 · This account cannot sign in to this brand's dashboard.",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "用户名 Username"
        self.fields["password"].label = "密码 Password"
        self.fields["username"].widget = forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"})

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if dashboard_principal(user, self.request.tenant) is None:
            raise ValidationError(self.error_messages["no_access"], code="no_access")


class BrandLoginView(LoginView):
    template_name = "dashboard/login.html"
    authentication_form = BrandLoginForm

    def dispatch(self, request, *args, **kwargs):
        if not request.tenant.is_active:
            return _brand_suspended(request)
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self):
        return reverse("dashboard:overview")

    def get_context_data(self, **kwargs):
        return super().get_context_data(brand=self.request.tenant, **kwargs)


@require_POST
def logout_view(request):
    logout(request)
    return redirect("dashboard:login")


# --------------------------------------------------------------------------- display helpers

def money_label(cents: int) -> str:
    yuan, rest = divmod(int(cents or 0), 100)
    return f"¥{yuan:,}" if rest == 0 else f"¥{yuan:,}.{rest:02d}"


def coupon_value_label(template) -> str:
    """'¥50' for a cash coupon, '8.5折' for a discount; a threshold adds '满¥300'."""
    if template.kind == "discount" and template.discount_percent:
        tenths = template.discount_percent / 10
        value = f"{tenths:g}折 · {100 - template.discount_percent}% off"
    else:
        value = money_label(template.value_cents)
    if template.threshold_cents:
        value += f" (满{money_label(template.threshold_cents)} · min {money_label(template.threshold_cents)})"
    return value


def coupon_rows(coupons) -> list:
    rows = list(coupons)
    for coupon in rows:
        coupon.value_label = coupon_value_label(coupon.template)
    return rows


def _tier_label(tiers: dict[str, str], code: str) -> str:
    return tiers.get(code) or code


def _page_links(request, page, **params) -> dict:
    def link(number: int) -> str:
        query = {k: v for k, v in params.items() if v}
        if number > 1:
            query["page"] = number
        return request.path + ("?" + urlencode(query) if query else "")

    return {
        "previous_url": link(page.previous_number) if page.has_previous else "",
        "next_url": link(page.next_number) if page.has_next else "",
    }


# --------------------------------------------------------------------------- pages

@brand_dashboard_view
def overview(request):
    brand = request.tenant
    counts = brand_member_counts(since=timezone.now() - dt.timedelta(days=7))
    tiers = tier_names()
    latest = list(brand_members()[:LATEST_ENROLMENTS])
    for brand_member in latest:
        brand_member.tier_label = _tier_label(tiers, brand_member.member.tier)
    return render(request, "dashboard/overview.html", {
        "brand": brand,
        "nav": "overview",
        "members_total": counts["total"],
        "members_total_is_estimate": counts["total_is_estimate"],
        "members_new_7d": counts["since"],
        "guides_active": guides_active_count(brand=brand),
        "latest": latest,
    })


@brand_dashboard_view
def member_list(request):
    q = request.GET.get("q", "").strip()[:64]
    tag = request.GET.get("tag", "").strip()[:30]
    page = page_without_count(brand_members(q=q, tag=tag), page=request.GET.get("page"), size=PAGE_SIZE)
    tiers = tier_names()
    for brand_member in page.items:
        brand_member.tier_label = _tier_label(tiers, brand_member.member.tier)
    return render(request, "dashboard/member_list.html", {
        "brand": request.tenant,
        "nav": "members",
        "q": q,
        "tag": tag,
        "page": page,
        **_page_links(request, page, q=q, tag=tag),
    })


@brand_dashboard_view
def member_detail(request, code: str):
    brand = request.tenant
    try:
        brand_member = brand_member_get(code=code)
    except NotFound:
        return _not_found(request, "本品牌无此会员 · This member is not a member of this brand.")
    member = brand_member.member
    entries = points_history(member=member, limit=POINTS_HISTORY_ROWS)
    for entry in entries:
        # The ledger is the mall's; an entry earned at another brand is that brand's sales
        # fact, so this brand sees its amount but neither the brand nor the reason.
        entry.is_other_brand = entry.brand_id is not None and entry.brand_id != brand.pk
    return render(request, "dashboard/member_detail.html", {
        "brand": brand,
        "nav": "members",
        "brand_member": brand_member,
        "member": member,
        "tier_label": _tier_label(tier_names(), member.tier),
        "points_entries": entries,
        "mall_coupons": coupon_rows(mall_coupons(member=member)[:COUPON_ROWS]),
        "brand_coupons": coupon_rows(brand_coupons(member=member)[:COUPON_ROWS]),
    })


@brand_dashboard_view
def member_qr(request, code: str):
    """The member code as a QR code (SVG), scanned at the POS to identify the member."""
    try:
        brand_member = brand_member_get(code=code)
    except NotFound:
        return _not_found(request, "本品牌无此会员 · This member is not a member of this brand.")
    qr = segno.make_qr(brand_member.member.code, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=6, border=2, dark="#111827", xmldecl=False,
            title=f"会员码 Member code {brand_member.member.code}")
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=3600"
    return response
