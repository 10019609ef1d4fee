"""Mall ops admin for group tasks (群任务): the HQ group nodes (what group owners do, when, in which groups, for
what reward), the interest tags brands put on their groups, and the report of group tasks across brands. Nodes and
tags are switched off, never deleted: tasks and groups refer to them."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from tasks.selectors import RATE_PERIODS
from tenants.admin import MallAdmin

from . import reports
from .models import GroupNode, InterestTag


class GroupNodeForm(forms.ModelForm):
    interest_tags = forms.MultipleChoiceField(
        label="兴趣标签 Interest tags", required=False, widget=forms.CheckboxSelectMultiple,
        help_text="不选 = 所有群；选了 = 带任一标签的群 · None = every group; otherwise groups with any of them")

    class Meta:
        model = GroupNode
        fields = ["title", "kind", "guide_notes", "script", "coupon_template", "schedule", "weekday", "offset_days",
                  "due_window_days", "starts_on", "ends_on", "brands", "stores", "interest_tags", "reward_coins",
                  "reward_exp", "optional", "position", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["interest_tags"].choices = list(InterestTag.objects.order_by("position", "code")
                                                    .values_list("code", "name"))
        for name in ("guide_notes", "script"):
            self.fields[name].widget.attrs.update(rows=4)


@admin.register(GroupNode)
class GroupNodeAdmin(MallAdmin):
    form = GroupNodeForm
    deletable = False
    list_display = ["title", "kind", "schedule_shown", "due_window_days", "audience", "optional", "reward_coins",
                    "reward_exp", "starts_on", "ends_on", "is_active"]
    list_filter = ["kind", "schedule", "optional", "is_active"]
    list_editable = ["is_active"]
    search_fields = ["title"]
    autocomplete_fields = ["brands", "stores", "coupon_template"]
    fieldsets = [
        (None, {"fields": ["title", "kind", "guide_notes", "script", "coupon_template"]}),
        ("频率 Schedule", {"fields": ["schedule", "weekday", "offset_days", "due_window_days", "starts_on", "ends_on"],
                         "description": "每周任务填星期；建群后第N天、成员入群满N天填N · Weekly needs a weekday; the "
                                        "two N-day schedules need N."}),
        ("适用群 Which groups", {"fields": ["brands", "stores", "interest_tags"],
                                "description": "都不选 = 所有品牌的所有群 · Leave all empty for every group of every brand"}),
        ("奖励与开关 Reward and switches", {"fields": ["reward_coins", "reward_exp", "optional", "position",
                                                     "is_active"]}),
    ]

    @admin.display(description="频率 Schedule", ordering="schedule")
    def schedule_shown(self, obj):
        return obj.schedule_label

    @admin.display(description="适用群 Groups")
    def audience(self, obj):
        parts = []
        brands = [b.name for b in obj.brands.all()]
        stores = [s.name for s in obj.stores.all()]
        if brands:
            parts.append("品牌 " + "、".join(brands))
        if stores:
            parts.append("门店 " + "、".join(stores))
        if obj.interest_tags:
            parts.append("标签 " + "、".join(obj.interest_tags))
        return " · ".join(parts) or "全部 All"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("brands", "stores")

    def get_urls(self):
        return [path("report/", self.admin_site.admin_view(self.report_view), name="community_group_report"),
                *super().get_urls()]

    def report_view(self, request):
        """群任务报表 · Group tasks across brands: per brand and kind, and per group where the brand shares it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = reports.group_tasks_all_brands(today=timezone.localdate(), days=request.GET.get("days"))
        chosen = next((row for row in report["brands"]
                       if row.shares_groups and str(row.brand.pk) == request.GET.get("brand")), None)
        return TemplateResponse(request, "admin/community/group_report.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "title": "群任务报表 Group tasks report",
            "report": report, "chosen": chosen, "periods": RATE_PERIODS})


@admin.register(InterestTag)
class InterestTagAdmin(MallAdmin):
    deletable = False
    list_display = ["position", "name", "code", "is_active"]
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    search_fields = ["name", "code"]

    def get_readonly_fields(self, request, obj=None):
        # groups store the code: fixed once the tag exists
        return ["code"] if obj is not None else []
