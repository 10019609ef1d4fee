"""The guide sidebar H5 (聊天工具栏): one URL on the mall host for every brand's guides.

It opens inside the WeCom chat sidebar (about 375px wide). The signed-in guide's id is kept in
the session; every view re-loads the guide, refuses a resigned guide or a suspended brand, and
switches the connection to the guide's brand schema for the rest of the request. Inside the
brand a guide sees only their own customers.
"""

from __future__ import annotations

import logging
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from members.brand.dashboard_views import coupon_rows
from members.selectors import brand_coupons, brand_member_get, mall_coupons, tier_names
from scrm.errors import NotFound
from scrm.pagination import page_without_count

from .models import Guide
from .selectors import guide_customer_get, guide_customers, guides_for_picker

logger = logging.getLogger(__name__)

SESSION_KEY = "sidebar_guide_id"
PAGE_SIZE = 20
COUPON_ROWS = 30


def _demo_mode() -> bool:
    return bool(getattr(settings, "DEMO_MODE", False))


def _sign_out(request) -> None:
    # Only the sidebar's key: a mall admin signed in to /admin/ on the same host stays signed in.
    request.session.pop(SESSION_KEY, None)


def lifecycle_day(added_at) -> int:
    """Day N of the 28-day lifecycle: whole local (Asia/Shanghai) days since the customer added the guide."""
    return (timezone.localdate() - timezone.localtime(added_at).date()).days


def guide_view(view):
    """Gate for every signed-in sidebar page; passes the Guide and runs the view in its brand schema."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        guide_id = request.session.get(SESSION_KEY)
        if guide_id is None:
            return redirect("sidebar:login")
        guide = Guide.objects.select_related("brand", "counter__store").filter(pk=guide_id).first()
        refusal = None
        if guide is None:
            refusal = "请重新登录 · Please sign in again."
        elif not guide.is_active:
            refusal = "您已离职，侧边栏已关闭 · You have left the brand; the sidebar is closed."
        elif not guide.brand.is_active:
            refusal = "品牌已停用，侧边栏已关闭 · The brand is suspended; the sidebar is closed."
        if refusal:
            logger.info("sidebar.signed_out", extra={"guide_id": guide_id})
            _sign_out(request)
            messages.warning(request, refusal)
            return redirect("sidebar:login")
        connection.set_tenant(guide.brand)
        try:
            return view(request, guide, *args, **kwargs)
        finally:
            connection.set_schema_to_public()

    return wrapper


def login_view(request):
    """Demo: pick a guide. Otherwise the sidebar can only be opened from WeCom (OAuth)."""
    demo = _demo_mode()
    if request.method == "POST":
        if not demo:
            return render(request, "sidebar/login.html", {"demo": False}, status=403)
        guide = guides_for_picker().filter(pk=_int_or_none(request.POST.get("guide_id"))).first()
        if guide is None:
            messages.error(request, "请选择一位在职导购 · Please pick an active guide.")
            return redirect("sidebar:login")
        request.session.cycle_key()
        request.session[SESSION_KEY] = guide.pk
        logger.info("sidebar.signed_in", extra={"tenant": guide.brand.schema_name, "guide_id": guide.pk})
        return redirect("sidebar:home")
    if request.session.get(SESSION_KEY) is not None:
        return redirect("sidebar:home")
    return render(request, "sidebar/login.html", {"demo": demo, "guides": guides_for_picker() if demo else []})


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@require_POST
def logout_view(request):
    _sign_out(request)
    messages.info(request, "已退出 · Signed out.")
    return redirect("sidebar:login")


@guide_view
def home(request, guide):
    """我的客户 · My customers: the guide's own customers, newest first, no COUNT."""
    q = request.GET.get("q", "").strip()[:64]
    page = page_without_count(guide_customers(guide=guide, q=q), page=request.GET.get("page"), size=PAGE_SIZE)
    tiers = tier_names()
    for relationship in page.items:
        relationship.lifecycle_day = lifecycle_day(relationship.added_at)
        relationship.tier_label = tiers.get(relationship.member.tier) or relationship.member.tier

    def link(number: int) -> str:
        query = {"q": q} if q else {}
        if number > 1:
            query["page"] = number
        return request.path + ("?" + urlencode(query) if query else "")

    return render(request, "sidebar/home.html", {
        "guide": guide,
        "q": q,
        "page": page,
        "previous_url": link(page.previous_number) if page.has_previous else "",
        "next_url": link(page.next_number) if page.has_next else "",
    })


@guide_view
def customer_detail(request, guide, code: str):
    try:
        relationship = guide_customer_get(guide=guide, code=code)
    except NotFound:
        return render(request, "errors/404.html", {
            "message": "客户不存在 · Customer not found.", "layout": "sidebar/layout.html", "guide": guide,
        }, status=404)
    member = relationship.member
    try:
        brand_member = brand_member_get(code=member.code)
    except NotFound:
        brand_member = None
    relationship.lifecycle_day = lifecycle_day(relationship.added_at)
    return render(request, "sidebar/customer.html", {
        "guide": guide,
        "relationship": relationship,
        "member": member,
        "tier_label": tier_names().get(member.tier) or member.tier,
        "brand_member": brand_member,
        "brand_coupons": coupon_rows(brand_coupons(member=member)[:COUPON_ROWS]),
        "mall_coupons": coupon_rows(mall_coupons(member=member)[:COUPON_ROWS]),
    })
