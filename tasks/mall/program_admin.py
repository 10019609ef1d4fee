"""Mall ops admin for HQ lifecycle programs (总部方案): start a draft version, edit its nodes inline, preview what it
would issue across every brand, publish it; and the guide-task completion report across brands.

Registered from ``tasks.mall.apps`` (tasks/mall/admin.py holds the campaign admin). Writes go through
``tasks.mall.programs``; the pages show brand data only as counts (no guide or customer names).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from scrm.errors import AppError
from tasks.selectors import RATE_PERIODS
from tenants.admin import MallAdmin, RolePermissions, admin_actor

from . import programs, reports
from .models import Program, ProgramNode, ProgramVersion, VersionStatus


def _context(model_admin, request, title: str, **extra) -> dict:
    return {**model_admin.admin_site.each_context(request), "opts": model_admin.opts, "title": title, **extra}


# --------------------------------------------------------------------------- programs

@admin.register(Program)
class ProgramAdmin(MallAdmin):
    list_display = ["name", "code", "is_default", "in_force", "draft"]
    fields = ["code", "name", "description", "is_default", "versions_table"]
    readonly_fields = ["code", "is_default", "versions_table"]
    actions = ["start_draft"]
    addable = deletable = False  # the default program is seeded; versions carry the changes

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("versions")

    @admin.display(description="现行版本 In force")
    def in_force(self, obj):
        version = next((v for v in obj.versions.all() if v.status == VersionStatus.PUBLISHED), None)
        return f"v{version.number}" if version else "—"

    @admin.display(description="草稿 Draft")
    def draft(self, obj):
        version = next((v for v in obj.versions.all() if v.status == VersionStatus.DRAFT), None)
        if version is None:
            return "—"
        return format_html('<a href="{}">v{} 编辑 Edit</a>',
                           reverse("admin:tasks_mall_programversion_change", args=[version.pk]), version.number)

    @admin.display(description="版本 Versions")
    def versions_table(self, obj):
        rows = format_html_join(
            "", '<tr><td><a href="{}">v{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            ((reverse("admin:tasks_mall_programversion_change", args=[v.pk]), v.number, v.get_status_display(),
              v.node_count, f"{timezone.localtime(v.published_at):%Y-%m-%d %H:%M}" if v.published_at else "—", v.note)
             for v in obj.versions.annotate(node_count=Count("nodes")).order_by("-number")))
        return format_html("<table><thead><tr><th>版本 Version</th><th>状态 Status</th><th>节点 Nodes</th>"
                           "<th>发布 Published</th><th>说明 Note</th></tr></thead><tbody>{}</tbody></table>", rows)

    @admin.action(description="新建草稿（复制现行版本）Start a draft (a copy of the version in force)",
                  permissions=["change"])
    def start_draft(self, request, queryset):
        for program in queryset:
            draft = programs.program_draft_create(actor=admin_actor(request), program_id=program.pk)
            self.message_user(request, format_html('{}: 草稿 draft <a href="{}">v{}</a>', program.name, reverse(
                "admin:tasks_mall_programversion_change", args=[draft.pk]), draft.number), messages.SUCCESS)


# --------------------------------------------------------------------------- versions and their nodes

class ProgramNodeForm(forms.ModelForm):
    class Meta:
        model = ProgramNode
        fields = ["key", "day_offset", "task_type", "title", "script", "coupon_template", "due_window_days",
                  "reward_coins", "reward_exp", "optional"]
        widgets = {"key": forms.TextInput(attrs={"size": 6}), "title": forms.TextInput(attrs={"size": 18}),
                   "script": forms.Textarea(attrs={"rows": 2, "cols": 30}),
                   **{name: forms.NumberInput(attrs={"style": "width: 4.5em"})
                      for name in ("day_offset", "due_window_days", "reward_coins", "reward_exp")}}

    def clean_day_offset(self):
        value = self.cleaned_data["day_offset"]
        if value > 365:
            raise forms.ValidationError("0-365 天 days")
        return value

    def clean_due_window_days(self):
        value = self.cleaned_data["due_window_days"]
        if not 1 <= value <= 60:
            raise forms.ValidationError("1-60 天 days")
        return value

    def clean(self):
        cleaned = super().clean()
        for name in ("reward_coins", "reward_exp"):
            if (cleaned.get(name) or 0) > 10000:
                self.add_error(name, "0-10000")
        return cleaned


class ProgramNodeInline(RolePermissions, admin.TabularInline):
    """A draft's nodes, edited in place; a published or retired version's nodes are shown, never changed (tasks
    issued from them point at them)."""

    model = ProgramNode
    form = ProgramNodeForm
    extra = 0

    def _draft(self, obj) -> bool:
        return obj is not None and obj.status == VersionStatus.DRAFT

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # The admin checks what a deleted row is protected by, from the mall's schema, where the brand-schema
        # tasks that point at published nodes do not exist. A draft's nodes were never issued: nothing to check.
        formset.form.hand_clean_DELETE = lambda form: None
        coupon = formset.form.base_fields["coupon_template"].widget
        coupon.can_add_related = coupon.can_change_related = coupon.can_delete_related = False
        coupon.can_view_related = False
        return formset

    def has_add_permission(self, request, obj=None):
        return self._draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._draft(obj) and super().has_delete_permission(request, obj)


@admin.register(ProgramVersion)
class ProgramVersionAdmin(MallAdmin):
    list_display = ["__str__", "status", "nodes_count", "published_at", "note"]
    list_filter = ["status", "program"]
    list_select_related = ["program"]
    fields = ["program", "number", "status", "note", "published_at"]
    readonly_fields = ["program", "number", "status", "published_at"]
    inlines = [ProgramNodeInline]
    actions = ["publish"]
    addable = False  # a draft starts from the program ("Start a draft"), as a copy of the version in force
    change_form_template = "admin/tasks_mall/programversion/change_form.html"
    change_list_template = "admin/tasks_mall/programversion/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(nodes_total=Count("nodes"))

    @admin.display(description="节点 Nodes", ordering="nodes_total")
    def nodes_count(self, obj):
        return obj.nodes_total

    def has_change_permission(self, request, obj=None):
        # the page of a published version opens read-only; only a draft is edited
        return super().has_change_permission(request, obj) and (obj is None or obj.status == VersionStatus.DRAFT)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status == VersionStatus.DRAFT)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a draft is discarded from its own page, through the service
        return actions

    def get_deleted_objects(self, objs, request):
        # Only drafts are deleted, and nothing points at a draft's nodes (see ProgramNodeInline.get_formset).
        objs = list(objs)
        nodes = [str(node) for obj in objs for node in obj.nodes.all()]
        return ([str(obj) for obj in objs] + nodes,
                {ProgramVersion._meta.verbose_name_plural: len(objs), ProgramNode._meta.verbose_name_plural: len(nodes)},
                set(), [])

    def delete_model(self, request, obj):
        programs.draft_discard(version_id=obj.pk, actor=admin_actor(request))

    def save_formset(self, request, form, formset, change):
        if form.instance.status != VersionStatus.DRAFT:
            raise PermissionDenied
        instances = formset.save(commit=False)
        if formset.deleted_objects:
            programs.draft_nodes_delete(version_id=form.instance.pk, node_ids=[o.pk for o in formset.deleted_objects])
        for node in instances:
            node.save()

    # ---- the preview and publish pages

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", view(self.preview_view), name="tasks_mall_programversion_preview"),
            path("<int:pk>/publish/", view(require_POST(self.publish_view)),
                 name="tasks_mall_programversion_publish"),
            path("completion/", view(self.completion_view), name="tasks_mall_completion"),
            *super().get_urls(),
        ]

    def preview_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ProgramVersion.objects.select_related("program"), pk=pk)
        mall = programs.program_preview_all_brands(version_id=version.pk)
        return TemplateResponse(request, "admin/tasks_mall/programversion/preview.html", _context(
            self, request, f"预览 Preview: {version}", version=version, mall=mall, preview=mall.as_preview(),
            may_publish=version.status == VersionStatus.DRAFT and self._may_write(request),
            nodes=list(version.nodes.order_by("day_offset", "key"))))

    def publish_view(self, request, pk: int):
        if not self._may_write(request):
            raise PermissionDenied
        try:
            version = programs.program_publish(version_id=pk, actor=admin_actor(request))
        except AppError as error:
            self.message_user(request, error.message, messages.ERROR)
            return redirect("admin:tasks_mall_programversion_change", pk)
        self.message_user(request, f"已发布 Published: {version}。下次引擎运行起生效，已下发的任务不变 "
                                   "From the engine's next run; tasks already issued stay as they are.",
                          messages.SUCCESS)
        return redirect("admin:tasks_mall_programversion_change", pk)

    @admin.action(description="发布所选草稿 Publish the selected draft", permissions=["change"])
    def publish(self, request, queryset):
        for pk in queryset.filter(status=VersionStatus.DRAFT).values_list("pk", flat=True):
            try:
                version = programs.program_publish(version_id=pk, actor=admin_actor(request))
            except AppError as error:
                self.message_user(request, f"#{pk}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"已发布 Published: {version}", messages.SUCCESS)

    # ---- completion across brands

    def completion_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        by = request.GET.get("by") if request.GET.get("by") in ("brand", "store", "counter") else "brand"
        report = reports.completion_all_brands(today=timezone.localdate(), days=request.GET.get("days"))
        return TemplateResponse(request, "admin/tasks_mall/completion.html", _context(
            self, request, "导购任务完成率 Guide task completion", report=report, rows=report[by], by=by,
            groups=[("brand", "品牌 Brand"), ("store", "门店 Store"), ("counter", "专柜 Counter")],
            periods=RATE_PERIODS))
