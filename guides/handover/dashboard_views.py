"""Brand dashboard pages for handovers (客户继承): list, report (per-customer lines, CSV), successor
override, marking a guide resigned, and on-job transfers. Mounted under /handovers/ of the brand host;
the gate is the brand dashboard's (brand managers; mall staff where the brand shares everything)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from guides.brand.models import Relationship
from guides.models import Guide, GuideStatus
from guides.services import guide_resign
from members.brand.dashboard_views import brand_dashboard_view
from members.models import Member
from scrm.errors import AppError, NotFound
from scrm.pagination import page_without_count

from . import selectors, services
from .models import HandoverKind
from .tasks import handover_run

PAGE_SIZE = 50


def _guide_of_brand(request, guide_id) -> Guide | None:
    try:
        return Guide.objects.filter(pk=int(guide_id), brand=request.tenant).select_related("counter").first()
    except (TypeError, ValueError):
        return None


def _handover_or_404(pk: int):
    try:
        return selectors.handover_get(handover_id=pk)
    except NotFound as exc:  # another brand's id, or none: this schema has no such handover
        raise Http404(exc.message) from exc


def _run_later(handover_id: int) -> None:
    schema = connection.schema_name
    handover_run.delay(schema, handover_id)


@brand_dashboard_view
def handover_list(request):
    handovers = list(selectors.handovers_with_counts()[:200])
    return render(request, "handover/list.html", {
        "brand": request.tenant, "nav": "handovers", "handovers": handovers, "labels": selectors.BUCKET_LABELS,
        "active_guides": Guide.objects.filter(brand=request.tenant, status=GuideStatus.ACTIVE).order_by("name"),
    })


@require_POST
@brand_dashboard_view
def guide_resign_view(request):
    """A brand manager marks a guide resigned: the account is locked and the handover starts after commit."""
    request.principal.require_write()
    guide = _guide_of_brand(request, request.POST.get("guide"))
    if guide is None:
        messages.error(request, "导购不存在 · Guide not found.")
        return redirect("dashboard:handover_list")
    if not guide.is_active:
        messages.error(request, f"{guide.name} 已离职 · Already resigned.")
        return redirect("dashboard:handover_list")
    if request.POST.get("confirm") != "1":
        # confirmation step: who, and how many customers WeCom will be asked to hand over
        return render(request, "handover/resign_confirm.html", {
            "brand": request.tenant, "nav": "handovers", "guide": guide,
            "customers": Relationship.objects.filter(guide=guide, status="active").count(),
            "action": reverse("dashboard:handover_guide_resign"), "cancel": reverse("dashboard:handover_list")})
    guide_resign(guide=guide, source="brand_manager")
    messages.success(request, f"{guide.name} 已标记离职，客户继承已开始 · Marked resigned; the handover has started.")
    return redirect("dashboard:handover_list")


@brand_dashboard_view
def handover_report(request, pk: int):
    handover = _handover_or_404(pk)
    state = request.GET.get("state", "")
    page = page_without_count(selectors.handover_items(handover_id=pk, state=state), page=request.GET.get("page"),
                              size=PAGE_SIZE)

    def link(number):
        query = {k: v for k, v in {"state": state, "page": number if number > 1 else ""}.items() if v}
        return request.path + ("?" + urlencode(query) if query else "")

    counts = selectors.handover_counts(handover_id=pk)
    return render(request, "handover/report.html", {
        "brand": request.tenant, "nav": "handovers", "handover": handover, "counts": counts, "page": page,
        "buckets": [(name, selectors.BUCKET_LABELS[name], counts[name]) for name in selectors.BUCKETS],
        "state": state, "previous_url": link(page.previous_number) if page.has_previous else "",
        "next_url": link(page.next_number) if page.has_next else "",
        "successors": Guide.objects.filter(brand=request.tenant, status=GuideStatus.ACTIVE)
        .exclude(pk=handover.guide_id).order_by("name"),
    })


@brand_dashboard_view
def handover_csv(request, pk: int):
    handover = _handover_or_404(pk)
    response = HttpResponse(selectors.handover_csv(handover_id=pk), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="handover-{handover.pk}.csv"'
    return response


@require_POST
@brand_dashboard_view
def handover_assign_view(request, pk: int):
    """Manager override: a successor for the ticked customers, or for every customer not yet on its way."""
    request.principal.require_write()
    handover = _handover_or_404(pk)
    successor = _guide_of_brand(request, request.POST.get("successor"))
    item_ids = [int(i) for i in request.POST.getlist("item") if i.isdigit()]
    if successor is None:
        messages.error(request, "请选择接替导购 · Choose a successor.")
        return redirect("dashboard:handover_report", pk=pk)
    try:
        changed = services.handover_assign(handover=handover, successor=successor,
                                           item_ids=item_ids or None, actor=request.principal.actor)
    except AppError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:handover_report", pk=pk)
    _run_later(handover.pk)
    messages.success(request, f"{changed} 位客户改由 {successor.name} 接替 · {changed} customers reassigned.")
    return redirect("dashboard:handover_report", pk=pk)


@require_POST
@brand_dashboard_view
def handover_run_view(request, pk: int):
    """"Continue now": safe to double-click (claims are atomic)."""
    request.principal.require_write()
    handover = _handover_or_404(pk)
    _run_later(handover.pk)
    messages.success(request, "已提交处理 · Queued.")
    return redirect("dashboard:handover_report", pk=pk)


@brand_dashboard_view
def onjob_transfer(request):
    """On-job transfer (在职继承): customers of one active guide to another, with a message; customers the
    platform knows were moved twice in 90 days are shown first and left out (WeCom would answer 40128)."""
    guides = Guide.objects.filter(brand=request.tenant, status=GuideStatus.ACTIVE).order_by("name")
    context = {"brand": request.tenant, "nav": "handovers", "guides": guides, "form": request.POST or {},
               "warnings": [], "errors": []}
    if request.method == "POST":
        request.principal.require_write()
        from_guide = _guide_of_brand(request, request.POST.get("from_guide"))
        to_guide = _guide_of_brand(request, request.POST.get("to_guide"))
        codes = [c for c in request.POST.get("codes", "").replace(",", " ").split() if c]
        message = request.POST.get("message", "").strip()
        if from_guide is None or to_guide is None:
            context["errors"].append("请选择原导购和接替导购 · Choose both guides.")
            return render(request, "handover/onjob.html", context, status=400)
        member_ids = list(Member.objects.filter(code__in=codes).values_list("pk", flat=True)) if codes else None
        if codes and len(member_ids) != len(set(codes)):
            context["errors"].append("部分会员码不存在 · Some member codes were not found.")
            return render(request, "handover/onjob.html", context, status=400)
        if request.POST.get("confirm") != "1":
            # warn before submitting: customers the platform knows were moved twice in 90 days (40128)
            candidates = member_ids if member_ids is not None else list(
                Relationship.objects.filter(guide=from_guide, status="active").values_list("member_id", flat=True))
            frequent = {m: n for m, n in services.onjob_recent_transfers(member_ids=candidates).items()
                        if n >= services.ONJOB_MAX_PER_WINDOW}
            if frequent:
                context["warnings"] = list(Member.objects.filter(pk__in=frequent).values_list("code", flat=True))
                return render(request, "handover/onjob.html", context)
        try:
            handover = services.onjob_transfer_create(from_guide=from_guide, to_guide=to_guide,
                                                      member_ids=member_ids, message=message,
                                                      actor=request.principal.actor)
        except AppError as exc:
            context["errors"].append(exc.message)
            return render(request, "handover/onjob.html", context, status=exc.status)
        _run_later(handover.pk)
        return redirect("dashboard:handover_report", pk=handover.pk)
    return render(request, "handover/onjob.html", context)


KINDS = dict(HandoverKind.choices)
