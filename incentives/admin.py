"""Mall ops admin for guide incentives: the rank ladder is editable; the ledger and balances are not
(they change only through services, and balances are rebuilt from the ledger)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from scrm.errors import AppError
from tenants.admin import BigTableAdmin, MallAdmin

from . import admin_views, shop
from .models import (
    AttributionSettings,
    GuideBalance,
    RankRule,
    Redemption,
    Reward,
    RewardEntry,
    ShareLink,
    StarGuide,
)


@admin.register(RankRule)
class RankRuleAdmin(MallAdmin):
    list_display = ["name", "code", "min_exp"]


class _ReadOnlyBig(BigTableAdmin):
    addable = changeable = deletable = False


@admin.register(RewardEntry)
class RewardEntryAdmin(_ReadOnlyBig):
    list_display = ["created_at", "guide", "coins", "exp", "source", "source_id", "note"]
    list_select_related = ["guide"]
    list_filter = ["source"]
    search_fields = ["=source_id", "=guide__wecom_userid"]
    raw_id_fields = ["guide"]


@admin.register(GuideBalance)
class GuideBalanceAdmin(_ReadOnlyBig):
    list_display = ["guide", "coins", "exp", "updated_at"]
    list_select_related = ["guide"]
    search_fields = ["=guide__wecom_userid"]
    raw_id_fields = ["guide"]


@admin.register(AttributionSettings)
class AttributionSettingsAdmin(MallAdmin):
    list_display = ["click_window_days", "use_current_guide", "use_first_guide", "cross_space_km", "points_per_yuan",
                    "coins_per_100_yuan", "exp_per_100_yuan", "updated_at"]
    deletable = False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("report/", view(lambda r: admin_views.attribution_report(self, r)),
                 name="incentives_attribution_report"),
            path("leaderboards/", view(lambda r: admin_views.leaderboards_page(self, r)),
                 name="incentives_leaderboards"),
            *super().get_urls(),
        ]


@admin.register(ShareLink)
class ShareLinkAdmin(_ReadOnlyBig):
    list_display = ["title", "code", "guide", "brand", "kind", "opened", "liked", "carted", "bought", "sales_cents",
                    "commission_cents", "updated_at"]
    list_select_related = ["guide", "brand"]
    list_filter = ["kind", "brand"]
    search_fields = ["=code", "=guide__wecom_userid"]
    raw_id_fields = ["guide"]


@admin.register(Reward)
class RewardAdmin(MallAdmin):
    """Mall rewards (no brand) are the mall's; a brand adds its own on the brand dashboard."""

    list_display = ["name", "brand", "kind", "coin_price", "stock", "is_active"]
    list_filter = ["is_active", "kind", "brand"]
    search_fields = ["^name"]
    deletable = False  # redemptions point at it; take it off sale instead


def _advance(action: str):
    def run(modeladmin, request, queryset):
        from tenants.access import principal_for_user

        actor = principal_for_user(request.user).actor
        done = 0
        for redemption_id in queryset.filter(brand__isnull=True).values_list("pk", flat=True):
            try:
                shop.redemption_advance(redemption_id=redemption_id, action=action, brand_id=None, actor=actor)
                done += 1
            except AppError as error:
                modeladmin.message_user(request, f"#{redemption_id}: {error.message}", level="warning")
        modeladmin.message_user(request, f"{done} 条已处理 handled (商场奖品 mall rewards only).")

    run.__name__ = f"redemptions_{action}"
    run.short_description = {"approve": "批准 Approve", "fulfil": "标记已发放 Mark fulfilled",
                             "reject": "驳回并退还金币 Reject (coins back)"}[action]
    run.allowed_permissions = ("change",)
    return run


@admin.register(Redemption)
class RedemptionAdmin(_ReadOnlyBig):
    list_display = ["requested_at", "guide", "reward", "brand", "coins", "state", "decided_by", "fulfilled_at"]
    list_select_related = ["guide", "reward", "brand"]
    list_filter = ["state", "brand"]
    raw_id_fields = ["guide", "reward"]
    actions = [_advance("approve"), _advance("fulfil"), _advance("reject")]

    def has_change_permission(self, request, obj=None):
        return obj is None and self._may_write(request)  # the actions, never the edit form


@admin.register(StarGuide)
class StarGuideAdmin(MallAdmin):
    list_display = ["guide", "headline", "position", "is_active", "created_at"]
    list_select_related = ["guide"]
    raw_id_fields = ["guide"]
