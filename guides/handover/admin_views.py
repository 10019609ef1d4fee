"""Mall ops (Django admin on the mall host) pages for handovers: every brand's handovers with their counts, a
handover's report with per-customer lines and CSV, and the "resign and hand over" action with its
confirmation page. Wired into GuideAdmin (guides/admin.py) under /admin/guides/guide/handovers/.

Handovers live in the brand schemas; each page enters the one brand's schema it names (the brand is looked up
by slug in the public schema, so a URL cannot name an arbitrary schema)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django_tenants.utils import schema_context

from guides.models import GuideStatus
from scrm.errors import NotFound
from scrm.pagination import page_without_count
from tenants.admin import admin_actor
from tenants.models import Brand

from . import selectors

PAGE_SIZE = 50


def _brand(slug: str) -> Brand:
    brand = Brand.objects.exclude(schema_name="public").filter(slug=slug).first()
    if brand is None:
        raise Http404("Brand not found")
    return brand


def _require_view(model_admin, request) -> None:
    if not model_admin.has_view_permission(request):  # mall roles only; brand logins use their dashboard
        raise PermissionDenied


def _context(model_admin, request, title: str, **extra) -> dict:
    return {**model_admin.admin_site.each_context(request), "opts": model_admin.opts, "title": title, **extra}


def handover_list(model_admin, request):
    _require_view(model_admin, request)
    show = request.GET.get("show", "open")
    rows = selectors.handovers_all_brands(open_only=(show == "open"))
    return TemplateResponse(request, "admin/handover/list.html", _context(
        model_admin, request, "客户继承 Handovers (all brands)", rows=rows, show=show,
        headers=[selectors.BUCKET_LABELS[name] for name in ("total", *selectors.BUCKETS)]))


def handover_report(model_admin, request, slug: str, pk: int):
    _require_view(model_admin, request)
    brand = _brand(slug)
    state = request.GET.get("state", "")
    with schema_context(brand.schema_name):
        try:
            handover = selectors.handover_get(handover_id=pk)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        counts = selectors.handover_counts(handover_id=pk)
        page = page_without_count(selectors.handover_items(handover_id=pk, state=state),
                                  page=request.GET.get("page"), size=PAGE_SIZE)
        items = list(page.items)
    return TemplateResponse(request, "admin/handover/report.html", _context(
        model_admin, request, f"继承报告 Handover report #{handover.pk} · {brand.name}", brand=brand,
        handover=handover, counts=counts, items=items, page=page, state=state,
        buckets=[(name, selectors.BUCKET_LABELS[name], counts[name]) for name in selectors.BUCKETS]))


def handover_csv(model_admin, request, slug: str, pk: int):
    _require_view(model_admin, request)
    brand = _brand(slug)
    with schema_context(brand.schema_name):
        try:
            selectors.handover_get(handover_id=pk)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        body = selectors.handover_csv(handover_id=pk)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="handover-{brand.slug}-{pk}.csv"'
    return response


def resign_action(model_admin, request, queryset):
    """Admin action: mark the selected guides resigned (account locked, customers handed over), after a
    confirmation page that names each guide and how many customers WeCom will be asked to move."""
    from guides.brand.models import Relationship
    from guides.services import guide_resign

    guides = list(queryset.filter(status=GuideStatus.ACTIVE).select_related("brand", "counter").order_by("pk"))
    if not guides:
        model_admin.message_user(request, "所选导购都已离职 · The selected guides have all resigned.", messages.WARNING)
        return None
    if request.POST.get("confirm") == "1":
        for guide in guides:
            guide_resign(guide=guide, source=f"mall_ops:{admin_actor(request)}")
        model_admin.message_user(request, f"{len(guides)} 位导购已离职，客户继承已开始 · {len(guides)} guide(s) resigned; "
                                          f"their handovers have started.", messages.SUCCESS)
        return redirect(reverse("admin:guides_guide_handovers"))
    for guide in guides:
        with schema_context(guide.brand.schema_name):
            guide.customer_count = Relationship.objects.filter(guide=guide, status="active").count()
    return TemplateResponse(request, "admin/handover/resign_confirm.html", _context(
        model_admin, request, "确认离职并继承客户 Confirm: resign and hand over", guides=guides,
        action_name="resign_and_hand_over", selected=[g.pk for g in guides]))


