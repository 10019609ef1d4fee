"""Brand dashboard pages for WeCom: channel live codes (渠道活码) with their statistics, customer groups
(客户群) and group live codes (群活码). Same gate as every dashboard page: the brand's manager, or
mall staff when the brand shares everything; writing needs a role that may write."""

from __future__ import annotations

import logging

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from guides.models import Guide, GuideStatus
from members.brand.dashboard_views import _not_found, _page_links, brand_dashboard_view
from scrm.errors import AppError, NotFound
from scrm.pagination import page_without_count
from tasks.community import selectors as group_tasks
from tenants.models import Store

from .. import livecodes as services
from .models import GroupLiveCode, GroupLiveCodeScope, LiveCode, LiveCodeKind

logger = logging.getLogger(__name__)

STATS_DAYS = 30
CODES_SHOWN = 200
GROUPS_PAGE = 20


def _actor(request) -> str:
    return f"user:{request.user.pk}"


def _refuse_read_only(request) -> bool:
    if request.principal.can_write:
        return False
    messages.warning(request, "只读账号不能修改 · This account is read-only.")
    return True


def _form_error(form, exc: AppError) -> None:
    placed = False
    for field, problems in (exc.fields or {}).items():
        if field in form.fields:
            form.add_error(field, f"{exc.message} ({'; '.join(map(str, problems))})")
            placed = True
    if not placed:
        form.add_error(None, exc.message)


# --------------------------------------------------------------------------- channel live codes

class LiveCodeForm(forms.Form):
    guide = forms.ModelChoiceField(queryset=Guide.objects.none(), label="导购 Guide")
    kind = forms.ChoiceField(choices=LiveCodeKind.choices, label="渠道类型 Channel kind")
    state = forms.CharField(label="渠道码 Channel code (State)", strip=True,
                            help_text="≤ 30 个字符，例如 counter-A01 · At most 30 characters, e.g. counter-A01")
    name = forms.CharField(label="名称 Name", strip=True, help_text="≤ 30 个字符 · At most 30 characters")

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["guide"].queryset = Guide.objects.filter(brand=brand, status=GuideStatus.ACTIVE).order_by("name")


@brand_dashboard_view
def livecodes(request):
    brand = request.tenant
    form = LiveCodeForm(request.POST or None, brand=brand)
    if request.method == "POST" and not _refuse_read_only(request) and form.is_valid():
        try:
            code = services.livecode_create(guide=form.cleaned_data["guide"], state=form.cleaned_data["state"],
                                            name=form.cleaned_data["name"], kind=form.cleaned_data["kind"],
                                            actor=_actor(request))
        except AppError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"已创建活码 · Live code created: {code.name} ({code.state})")
            return redirect("dashboard:livecodes")
    codes = list(LiveCode.objects.select_related("guide").order_by("-is_active", "-id")[:CODES_SHOWN])
    totals = services.livecode_totals(codes)
    for code in codes:
        code.totals = totals.get(code.pk, {"adds": 0, "active": 0, "deletes": 0, "net": 0})
    stats = services.channel_stats_by_day(days=STATS_DAYS)
    return render(request, "dashboard/livecodes.html", {
        "brand": brand,
        "nav": "livecodes",
        "form": form,
        "codes": codes,
        "table": services.channel_daily_table(stats, days=STATS_DAYS),
        "stats_days": STATS_DAYS,
    }, status=400 if form.errors else 200)


def qr_response(qr_url: str, *, download_name: str = "") -> HttpResponse:
    """The QR image WeCom issued at ``qr_url`` (a download named ``download_name``.png/.svg when given);
    an unreachable or missing image answers its AppError's status with the message."""
    try:
        body, content_type = services.qr_image(qr_url)
    except AppError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    response = HttpResponse(body, content_type=content_type)
    if download_name:
        extension = "svg" if "svg" in content_type else "png"
        response["Content-Disposition"] = f'attachment; filename="{download_name}.{extension}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response


@brand_dashboard_view
def livecode_qr(request, pk: int):
    """The QR image WeCom issued for the live code, as a download."""
    try:
        code = services.livecode_get(pk=pk)
    except NotFound as exc:
        return _not_found(request, exc.message)
    return qr_response(code.qr_code, download_name=f"livecode-{code.pk}-{code.guide_id}")


@require_POST
@brand_dashboard_view
def livecode_deactivate(request, pk: int):
    if _refuse_read_only(request):
        return redirect("dashboard:livecodes")
    try:
        code = services.livecode_deactivate(code=services.livecode_get(pk=pk), actor=_actor(request))
    except NotFound as exc:
        return _not_found(request, exc.message)
    except AppError as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, f"已停用 · Deactivated: {code.name} ({code.state})")
    return redirect("dashboard:livecodes")


# --------------------------------------------------------------------------- customer groups

class GroupLiveCodeForm(forms.Form):
    name = forms.CharField(label="名称 Name", strip=True)
    scope = forms.ChoiceField(choices=GroupLiveCodeScope.choices, label="范围 Scope")
    store = forms.ModelChoiceField(queryset=Store.objects.none(), required=False, label="门店 Store")
    chat_ids = forms.MultipleChoiceField(choices=(), label="客户群（最多5个）Groups (up to 5)",
                                         widget=forms.CheckboxSelectMultiple)
    state = forms.CharField(label="渠道码 Channel code (State)", required=False, strip=True,
                            help_text="≤ 30 个字符，用于统计入群 · At most 30 characters; counts who joined")
    auto_create_room = forms.BooleanField(label="满员自动建群 Open a new group when full", required=False,
                                          initial=True)

    def __init__(self, *args, brand, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = Store.objects.filter(counters__brand=brand).distinct().order_by("code")
        self.fields["chat_ids"].choices = [(g.chat_id, g.name or g.chat_id) for g in groups]


@brand_dashboard_view
def groups(request):
    from guides.brand.models import CustomerGroup, CustomerGroupStatus

    brand = request.tenant
    live = list(CustomerGroup.objects.filter(status=CustomerGroupStatus.NORMAL).order_by("name", "id")[:500])
    form = GroupLiveCodeForm(request.POST or None, brand=brand, groups=live)
    if request.method == "POST" and not _refuse_read_only(request) and form.is_valid():
        data = form.cleaned_data
        try:
            code = services.group_livecode_create(
                name=data["name"], chat_ids=data["chat_ids"], scope=data["scope"], store=data["store"],
                state=data["state"], auto_create_room=data["auto_create_room"], actor=_actor(request))
        except AppError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"已创建群活码 · Group live code created: {code.name}")
            return redirect("dashboard:groups")
    status = request.GET.get("status", "")
    queryset = CustomerGroup.objects.select_related("owner", "store").order_by("status", "-id")
    if status in CustomerGroupStatus.values:
        queryset = queryset.filter(status=status)
    page = page_without_count(queryset, page=request.GET.get("page"), size=GROUPS_PAGE)
    group_tasks.groups_annotate(groups=page.items, brand=brand)  # tags, 7-day activity, group tasks
    join_codes = list(GroupLiveCode.objects.select_related("store").order_by("-is_active", "-id")[:CODES_SHOWN])
    joins = services.group_livecode_joins(join_codes)
    for code in join_codes:
        code.joined = joins.get(code.pk, (0, 0))
    return render(request, "dashboard/groups.html", {
        "brand": brand,
        "nav": "groups",
        "page": page,
        "status": status,
        "statuses": CustomerGroupStatus.choices,
        "form": form,
        "join_codes": join_codes,
        "group_nodes": group_tasks.brand_group_nodes(brand=brand),
        "activity_days": group_tasks.ACTIVITY_DAYS,
        **_page_links(request, page, status=status),
    }, status=400 if form.errors else 200)


@brand_dashboard_view
def group_livecode_qr(request, pk: int):
    try:
        code = services.group_livecode_get(pk=pk)
    except NotFound as exc:
        return _not_found(request, exc.message)
    return qr_response(code.qr_code, download_name=f"group-livecode-{code.pk}")


@require_POST
@brand_dashboard_view
def group_livecode_deactivate(request, pk: int):
    if _refuse_read_only(request):
        return redirect("dashboard:groups")
    try:
        code = services.group_livecode_deactivate(code=services.group_livecode_get(pk=pk), actor=_actor(request))
    except NotFound as exc:
        return _not_found(request, exc.message)
    except AppError as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, f"已停用 · Deactivated: {code.name}")
    return redirect("dashboard:groups")
