"""Mall ops admin for the guide directory (导购). Guide-customer relationships live in brand schemas
and are not shown here; resignation and customer inheritance (离职继承) go through their own flow."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import path

from tenants.admin import BigTableAdmin

from .handover import admin_views as handover_views
from .models import Guide


class GuideForm(forms.ModelForm):
    avatar_url = forms.URLField(label="头像 Avatar", required=False, assume_scheme="https")

    class Meta:
        model = Guide
        fields = ["wecom_userid", "name", "brand", "counter", "hired_on", "avatar_url"]

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand") or getattr(self.instance, "brand", None)
        counter = cleaned.get("counter")
        if brand is not None and counter is not None and counter.brand_id != brand.pk:
            self.add_error("counter", "专柜不属于该品牌。The counter belongs to another brand.")
        return cleaned


@admin.register(Guide)
class GuideAdmin(BigTableAdmin):
    form = GuideForm
    deletable = False  # relationships and ledgers point at the guide; a guide resigns instead
    list_display = ["name", "wecom_userid", "brand", "counter", "status", "hired_on", "resigned_on"]
    list_select_related = ["brand", "counter"]
    list_filter = ["status", "brand"]
    search_fields = ["=wecom_userid", "^name"]
    search_help_text = "企业微信账号（精确）或姓名前缀。WeCom userid (exact) or the start of the name."
    autocomplete_fields = ["brand", "counter"]
    actions = ["resign_and_hand_over"]

    @admin.action(description="离职并继承客户… Resign and hand over customers…", permissions=["change"])
    def resign_and_hand_over(self, request, queryset):
        return handover_views.resign_action(self, request, queryset)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("handovers/", view(lambda r: handover_views.handover_list(self, r)), name="guides_guide_handovers"),
            path("handovers/<slug:slug>/<int:pk>/", view(lambda r, slug, pk: handover_views.handover_report(
                self, r, slug, pk)), name="guides_guide_handover_report"),
            path("handovers/<slug:slug>/<int:pk>/export.csv", view(lambda r, slug, pk: handover_views.handover_csv(
                self, r, slug, pk)), name="guides_guide_handover_csv"),
            *super().get_urls(),
        ]

    def get_fields(self, request, obj=None):
        fields = ["wecom_userid", "name", "brand", "counter", "hired_on", "avatar_url"]
        return fields if obj is None else [*fields, "status", "resigned_on", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # A guide's brand decides which schema holds their customers; status moves with the handover.
        return [] if obj is None else ["wecom_userid", "brand", "status", "resigned_on", "created_at"]
