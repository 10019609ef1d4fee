"""Brand dashboard: the lifecycle program (HQ nodes, switching optional ones off, the brand's own nodes, with a
what-if preview before adding or changing one), the event triggers, completion rates by guide, counter and store, and the
overdue list. Same gate as every dashboard page; changes need a role that may write."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from members.brand.dashboard_views import brand_dashboard_view
from scrm.errors import AppError
from tenants.models import Role

from . import services
from .mall.models import TaskType
from .models import BrandNode
from .newbie.selectors import brand_newbies
from .selectors import (
    RATE_GROUPS,
    RATE_PERIODS,
    brand_program,
    completion_rates,
    lifecycle_nodes,
    nodes_with_proposal,
    overdue_counts,
    overdue_tasks,
    program_preview,
)


def _actor(request) -> str:
    return f"user:{request.user.pk}"


def _may_write(request) -> bool:
    if request.principal.can_write:
        return True
    messages.warning(request, "只读账号不能修改 · This account is read-only.")
    return False


class BrandNodeForm(forms.Form):
    day_offset = forms.IntegerField(label="第几天 Day offset", min_value=0, max_value=365)
    task_type = forms.ChoiceField(label="任务类型 Task type", choices=TaskType.choices, initial=TaskType.CARE)
    title = forms.CharField(label="标题 Title", max_length=100)
    script = forms.CharField(label="话术 Script ({name} = 客户姓名 customer's name)", max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))
    due_window_days = forms.IntegerField(label="完成期限(天) Due window (days)", min_value=1, max_value=60, initial=3)
    reward_coins = forms.IntegerField(label="金币 Coins", min_value=0, max_value=10000, initial=5)
    reward_exp = forms.IntegerField(label="经验 Experience", min_value=0, max_value=10000, initial=5)


def _sees_customers(request) -> bool:
    """Customer names on this page are the brand's: its managers see them, mall staff only the counts."""
    return request.principal.role == Role.BRAND_MANAGER


@brand_dashboard_view
def program(request):
    """导购任务 · Guide tasks: the program, the triggers, completion rates and the overdue list."""
    form = BrandNodeForm(request.POST or None)
    if request.method == "POST" and _may_write(request) and form.is_valid():
        try:
            node = services.brand_node_create(**form.cleaned_data, actor=_actor(request))
        except AppError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"已添加节点 · Node added: D{node.day_offset} {node.title}")
            return redirect("dashboard:tasks")
    return _program_page(request, form)


def _program_page(request, form):
    today = timezone.localdate()
    rate_by = request.GET.get("by") if request.GET.get("by") in RATE_GROUPS else "guide"
    rates = completion_rates(today=today, days=request.GET.get("days"))
    sees_customers = _sees_customers(request)
    return render(request, "dashboard/tasks.html", {
        "brand": request.tenant,
        "nav": "tasks",
        "form": form,
        **brand_program(),
        "rates": rates,
        "rate_rows": rates[rate_by],
        "rate_by": rate_by,
        "rate_label": RATE_GROUPS[rate_by],
        "rate_groups": RATE_GROUPS,
        "rate_periods": RATE_PERIODS,
        "sees_customers": sees_customers,
        "overdue": overdue_tasks(today=today) if sees_customers else [],
        "overdue_counts": overdue_counts(today=today),
        "today": today,
        **brand_newbies(brand=request.tenant),
    })


def _preview_page(request, form, *, node: BrandNode | None = None):
    """The preview of ``form``'s node, added (``node`` None) or replacing ``node``, beside the program in force."""
    current = lifecycle_nodes()
    preview = program_preview(nodes=nodes_with_proposal(current, day_offset=form.cleaned_data["day_offset"],
                                                        due_window_days=form.cleaned_data["due_window_days"],
                                                        brand_node_id=node.pk if node else None),
                              compare=current)
    return render(request, "dashboard/task_preview.html", {
        "brand": request.tenant, "nav": "tasks", "form": form, "preview": preview, "show_busiest": True,
        "editing": node,
    })


@require_POST
@brand_dashboard_view
def node_preview(request):
    """预览 · Preview a new brand node before saving it: the tasks per day and per guide over the next 28 days for
    the brand's customers now, beside the program in force. Nothing is saved here; "Save" posts to the list."""
    form = BrandNodeForm(request.POST)
    if not form.is_valid():
        return _program_page(request, form)
    return _preview_page(request, form)


def _node_initial(node: BrandNode) -> dict:
    return {name: getattr(node, name) for name in BrandNodeForm.base_fields}


@brand_dashboard_view
def brand_node_edit(request, pk: int):
    """修改节点 · Change one of the brand's active nodes. GET shows it with the preview of the program as it is;
    "Preview again" shows the change's effect; "Confirm & save" posts here and saves it."""
    node = get_object_or_404(BrandNode, pk=pk, is_active=True)
    if request.method != "POST":
        form = BrandNodeForm(data=_node_initial(node))
        form.is_valid()
        return _preview_page(request, form, node=node)
    form = BrandNodeForm(request.POST)
    if not form.is_valid():
        return render(request, "dashboard/task_preview.html", {
            "brand": request.tenant, "nav": "tasks", "form": form, "preview": None, "editing": node})
    if _may_write(request):
        try:
            node = services.brand_node_update(pk=node.pk, **form.cleaned_data)
        except AppError as exc:
            messages.warning(request, exc.message)
        else:
            messages.success(request, f"已保存节点 · Node saved: D{node.day_offset} {node.title}")
    return redirect("dashboard:tasks")


@require_POST
@brand_dashboard_view
def brand_node_preview(request, pk: int):
    """预览修改 · The effect of changing an existing brand node, before saving it. Nothing is saved here."""
    node = get_object_or_404(BrandNode, pk=pk, is_active=True)
    form = BrandNodeForm(request.POST)
    if not form.is_valid():
        return render(request, "dashboard/task_preview.html", {
            "brand": request.tenant, "nav": "tasks", "form": form, "preview": None, "editing": node})
    return _preview_page(request, form, node=node)


@require_POST
@brand_dashboard_view
def hq_node_switch(request, key: str):
    if _may_write(request):
        off = request.POST.get("off") == "1"
        try:
            services.hq_node_switch(key=key, off=off, actor=_actor(request))
        except AppError as exc:
            messages.warning(request, exc.message)
        else:
            messages.success(request, ("已关闭 · Switched off: " if off else "已开启 · Switched on: ") + key)
    return redirect("dashboard:tasks")


@require_POST
@brand_dashboard_view
def brand_node_deactivate(request, pk: int):
    if _may_write(request):
        try:
            services.brand_node_deactivate(pk=pk)
        except AppError as exc:
            messages.warning(request, exc.message)
        else:
            messages.success(request, "已停用节点 · Node switched off")
    return redirect("dashboard:tasks")


@require_POST
@brand_dashboard_view
def trigger_update(request, kind: str):
    if _may_write(request):
        try:
            offset = int(request.POST.get("offset", ""))
        except ValueError:
            messages.warning(request, "N 须为整数 · N must be a whole number")
            return redirect("dashboard:tasks")
        try:
            services.trigger_update(kind=kind, is_enabled=request.POST.get("is_enabled") == "on", offset=offset,
                                    title=request.POST.get("title", ""))
        except AppError as exc:
            messages.warning(request, f"{exc.message}: {exc.fields or ''}")
        else:
            messages.success(request, "已保存触发器 · Trigger saved")
    return redirect("dashboard:tasks")
