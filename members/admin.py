"""Mall ops admin for the member identity, the points ledger, tiers and mall coupons.

Brand memberships and brand coupons live in brand schemas and are not shown here: the mall
sees brand data only as aggregates. Ledgers are append-only, so their pages are read-only;
points change only through ``members.services`` (the adjust page below calls ``points_adjust``).
"""

from __future__ import annotations

import re
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from scrm.errors import AppError
from tenants.admin import BigTableAdmin, MallAdmin, ReadOnlyMallAdmin, RolePermissions, admin_actor

from .models import (
    Coupon,
    CouponTemplate,
    Member,
    MemberExternalId,
    PointsEntry,
    TierChange,
    TierRule,
)
from .selectors import member_filter_query, points_history
from .services import points_adjust

MEMBER_SEARCH_HELP = "会员码、手机号（精确）或姓名前缀。Member code, phone (exact) or the start of the name."


class TierFilter(admin.SimpleListFilter):
    """Tiers from the rules table (a handful of rows), not a DISTINCT over millions of members."""

    title = "等级 Tier"
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        return list(TierRule.objects.order_by("min_points_12m").values_list("code", "name"))

    def queryset(self, request, queryset):
        return queryset.filter(tier=self.value()) if self.value() else queryset


class MemberExternalIdInline(RolePermissions, admin.TabularInline):
    model = MemberExternalId
    fields = ["corp_id", "external_userid", "created_at"]
    readonly_fields = fields
    addable = changeable = deletable = False
    extra = 0


# --------------------------------------------------------------------------- points adjustment

class PointsAdjustForm(forms.Form):
    """A manual correction. ``submission`` is generated when the form is shown and becomes the
    idempotency key, so submitting the same form twice credits once."""

    amount = forms.IntegerField(label="调整积分 Points", help_text="正数增加，负数扣减（先扣最早到期的积分）。"
                                "Positive adds a lot; negative takes from the lots expiring first.")
    reason = forms.CharField(label="原因 Reason", max_length=200)
    submission = forms.CharField(widget=forms.HiddenInput)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("调整积分须为非零整数。Must not be zero.")
        return amount

    def clean_submission(self):
        submission = self.cleaned_data["submission"]
        if not re.fullmatch(r"[0-9a-f]{32}", submission):
            raise forms.ValidationError("表单已失效，请重新打开。This form is stale; open it again.")
        return submission


POINTS_ADJUST_TEMPLATE = """{% extends "admin/base_site.html" %}
{% load i18n admin_urls %}
{% block breadcrumbs %}<div class="breadcrumbs">
<a href="{% url 'admin:index' %}">{% translate 'Home' %}</a>
&rsaquo; <a href="{% url 'admin:app_list' app_label=opts.app_label %}">{{ opts.app_config.verbose_name }}</a>
&rsaquo; <a href="{% url opts|admin_urlname:'changelist' %}">{{ opts.verbose_name_plural|capfirst }}</a>
&rsaquo; <a href="{% url opts|admin_urlname:'change' member.pk|admin_urlquote %}">{{ member }}</a>
&rsaquo; {{ title }}</div>{% endblock %}
{% block content %}<div id="content-main">
<p>积分余额 Balance: <strong>{{ member.points_balance }}</strong> · 等级 Tier: <strong>{{ member.tier }}</strong></p>
<form method="post" novalidate>{% csrf_token %}
{% if form.non_field_errors %}<p class="errornote">{% for e in form.non_field_errors %}{{ e }} {% endfor %}</p>{% endif %}
<fieldset class="module aligned">
{% for field in form.visible_fields %}<div class="form-row">{{ field.errors }}
<div class="flex-container">{{ field.label_tag }} {{ field }}</div>
{% if field.help_text %}<div class="help">{{ field.help_text }}</div>{% endif %}</div>{% endfor %}
{% for field in form.hidden_fields %}{{ field }}{% endfor %}
</fieldset>
<div class="submit-row"><input type="submit" class="default" value="提交 Submit"></div>
</form></div>{% endblock %}
"""


def _points_adjust_template():
    return engines["django"].from_string(POINTS_ADJUST_TEMPLATE)


# --------------------------------------------------------------------------- members

@admin.register(Member)
class MemberAdmin(BigTableAdmin):
    addable = False  # members are enrolled through member_enroll (one code, dual membership)
    deletable = False  # the points ledger keeps them
    list_display = ["code", "name", "phone_masked", "gender", "tier", "points_balance", "first_brand", "created_at"]
    list_select_related = ["first_brand"]
    list_filter = [TierFilter, "gender"]
    search_fields = ["code"]  # shows the search box; get_search_results does the real work
    search_help_text = MEMBER_SEARCH_HELP
    inlines = [MemberExternalIdInline]
    readonly_fields = ["code", "phone_masked", "unionid", "tier", "points_balance", "points_recent",
                       "points_adjust_link", "first_brand", "first_guide", "first_channel", "created_at",
                       "privacy_accepted_at"]

    def get_fieldsets(self, request, obj=None):
        points = ["tier", "points_balance", "points_recent"]
        if self.has_change_permission(request, obj):
            points.append("points_adjust_link")
        return [
            ("身份 Identity", {"fields": ["code", "name", "gender", "birthday", "phone_masked", "unionid"]}),
            ("积分与等级 Points and tier", {"fields": points}),
            ("入会 Enrolment", {"fields": ["first_brand", "first_guide", "first_channel", "created_at"]}),
            ("授权 Consent", {"fields": ["marketing_consent", "privacy_accepted_at"]}),
        ]

    def get_search_results(self, request, queryset, search_term):
        # Exact code, exact phone through the keyed hash, or a name prefix: each one an index lookup.
        return member_filter_query(queryset, search_term), False

    @admin.display(description="最近积分 Recent points")
    def points_recent(self, member):
        entries = points_history(member=member, limit=10)
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((f"{localtime(e.created_at):%Y-%m-%d %H:%M}", e.get_kind_display(), f"{e.amount:+d}", e.brand or "—",
              e.reason)
             for e in entries))
        url = reverse("admin:members_pointsentry_changelist") + f"?member={member.pk}"
        return format_html('<table>{}</table><p><a href="{}">全部流水 All entries →</a></p>', rows, url)

    @admin.display(description="调整积分 Adjust points")
    def points_adjust_link(self, member):
        url = reverse("admin:members_member_points_adjust", args=[member.pk])
        return format_html('<a class="button" href="{}">调整积分 Adjust points</a>', url)

    def get_urls(self):
        return [
            path("<path:object_id>/points-adjust/", self.admin_site.admin_view(self.points_adjust_view),
                 name="members_member_points_adjust"),
            *super().get_urls(),
        ]

    def points_adjust_view(self, request, object_id):
        member = self.get_object(request, unquote(object_id))
        if member is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, member):
            raise PermissionDenied
        if request.method == "POST":
            form = PointsAdjustForm(request.POST)
            if form.is_valid():
                done = self._points_adjust(request, member, form)
                if done:
                    return redirect("admin:members_member_change", member.pk)
        else:
            form = PointsAdjustForm(initial={"submission": uuid.uuid4().hex})
        context = {**self.admin_site.each_context(request), "opts": self.opts, "member": member, "form": form,
                   "title": f"调整积分 Adjust points · {member}"}
        return TemplateResponse(request, _points_adjust_template(), context)

    def _points_adjust(self, request, member, form) -> bool:
        data = form.cleaned_data
        key = f"admin-adjust:{member.pk}:{data['submission']}"
        replay = PointsEntry.objects.filter(idempotency_key=key).exists()
        try:
            entry = points_adjust(member=member, amount=data["amount"], idempotency_key=key,
                                  reason=data["reason"], actor=admin_actor(request))
        except AppError as exc:
            for field, errors in exc.fields.items():
                form.add_error(field if field in form.fields else None, errors)
            if not exc.fields:
                form.add_error(None, exc.message)
            return False
        member.refresh_from_db(fields=["points_balance", "tier"])
        if replay:
            self.message_user(request, "这次提交已记录过，未重复调整。This submission was already recorded; "
                                       "nothing was added twice.", messages.WARNING)
        else:
            self.message_user(request, f"已调整 {entry.amount:+d} 积分，余额 {member.points_balance}。"
                                       f"Adjusted {entry.amount:+d} points; balance {member.points_balance}.",
                              messages.SUCCESS)
        return True


@admin.register(MemberExternalId)
class MemberExternalIdAdmin(BigTableAdmin, ReadOnlyMallAdmin):
    list_display = ["external_userid", "corp_id", "member", "created_at"]
    list_select_related = ["member"]
    search_fields = ["external_userid"]
    search_help_text = ("外部联系人ID（可写 corp_id:userid）或会员码、手机号、姓名前缀。"
                        "External userid (optionally corp_id:userid), or a member code, phone or name prefix.")

    def get_search_results(self, request, queryset, search_term):
        from django.conf import settings

        term = search_term.strip()
        if not term:
            return queryset, False
        corp_id, _, userid = term.rpartition(":")
        if corp_id or re.fullmatch(r"w[a-zA-Z][\w-]{10,62}", term):
            # (corp_id, external_userid) is the unique index: always give it the corp
            return queryset.filter(corp_id=corp_id or settings.WECOM_CORP_ID_DEFAULT, external_userid=userid), False
        return member_filter_query(queryset, term, prefix="member__"), False


# --------------------------------------------------------------------------- points ledger and tiers

def _ledger_search(queryset, search_term):
    term = search_term.strip()
    if ":" in term:  # an idempotency key, e.g. admin-adjust:12:… or expire:345
        return queryset.filter(idempotency_key=term)
    return member_filter_query(queryset, term, prefix="member__")


@admin.register(PointsEntry)
class PointsEntryAdmin(BigTableAdmin, ReadOnlyMallAdmin):
    list_display = ["created_at", "member", "kind", "amount", "remaining", "expires_at", "brand", "reason", "actor"]
    list_select_related = ["member", "brand"]
    list_filter = ["kind", "brand"]
    search_fields = ["idempotency_key"]
    search_help_text = "会员码、手机号、姓名前缀或幂等键。Member code, phone, name prefix or an idempotency key."

    def get_search_results(self, request, queryset, search_term):
        return _ledger_search(queryset, search_term), False


@admin.register(TierChange)
class TierChangeAdmin(BigTableAdmin, ReadOnlyMallAdmin):
    list_display = ["at", "member", "from_tier", "to_tier", "is_upgrade"]
    list_select_related = ["member"]
    list_filter = ["is_upgrade"]
    search_fields = ["member__code"]
    search_help_text = MEMBER_SEARCH_HELP

    def get_search_results(self, request, queryset, search_term):
        return member_filter_query(queryset, search_term, prefix="member__"), False


@admin.register(TierRule)
class TierRuleAdmin(MallAdmin):
    list_display = ["code", "name", "min_points_12m"]


# --------------------------------------------------------------------------- mall coupons

@admin.register(CouponTemplate)
class CouponTemplateAdmin(MallAdmin):
    list_display = ["name", "kind", "value_cents", "discount_percent", "threshold_cents", "valid_from",
                    "valid_until", "valid_days", "stock", "issued_count", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["issued_count", "created_at"]


@admin.register(Coupon)
class CouponAdmin(BigTableAdmin, ReadOnlyMallAdmin):
    """Coupons move issued -> viewed -> redeemed/expired only through the services (POS, expiry job)."""

    list_display = ["code", "template", "member", "state", "issued_at", "viewed_at", "redeemed_at", "valid_until"]
    list_select_related = ["template", "member"]
    list_filter = ["state", "template"]
    search_fields = ["code"]
    search_help_text = "券码（精确）或会员码、手机号、姓名前缀。Coupon code (exact), or member code, phone or name prefix."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if re.fullmatch(r"M[A-Z0-9]{11}", term.upper()):
            return queryset.filter(code=term.upper()), False
        return member_filter_query(queryset, term, prefix="member__"), False
