"""Mall ops admin for campaign tasks (活动任务): create a mall campaign for any audience (all guides, brands,
stores, counters), publish it, follow its progress per guide, settle it. Brand campaigns are listed too but
are the brand's to edit; their per-guide progress is shown only when the brand shares everything.
Writes go through tasks.mall.services, like the brand dashboard's."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.utils.html import format_html, format_html_join

from scrm.errors import AppError
from tenants.admin import MallAdmin, admin_actor, adopt
from tenants.models import SharingPolicy

from . import selectors, services
from .models import Campaign, CampaignMetric, CampaignState

PROGRESS_ROWS = 200
# the form fields passed to the service as they are (the audience's picks and the target are converted)
SETTINGS = ("title", "description", "script", "audience", "starts_at", "ends_at", "metric", "reward_coins",
            "reward_exp", "top_n", "top_coins", "top_exp")


class CampaignAdminForm(forms.ModelForm):
    target_amount = forms.DecimalField(label="每人目标 Target per guide", max_digits=14, decimal_places=2,
                                       help_text="销售额填元（¥3,000 填 3000），客户数、任务数填个数 Sales in ¥, "
                                                 "customers and tasks as counts")

    class Meta:
        model = Campaign
        fields = ["title", "description", "script", "audience", "brands", "stores", "counters", "starts_at",
                  "ends_at", "metric", "reward_coins", "reward_exp", "top_n", "top_coins", "top_exp"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        campaign = self.instance
        if campaign.pk:
            self.fields["target_amount"].initial = (Decimal(campaign.target) / 100
                                                    if campaign.metric == CampaignMetric.SALES else campaign.target)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        amount, metric = cleaned["target_amount"], cleaned["metric"]
        if metric != CampaignMetric.SALES and amount != amount.to_integral_value():
            self.add_error("target_amount", "客户数、任务数须为整数 Customers and tasks are whole numbers.")
            return cleaned
        target = int((amount * 100).to_integral_value()) if metric == CampaignMetric.SALES else int(amount)
        args = {name: cleaned[name] for name in SETTINGS}
        args.update(target=target, brand_ids=list(cleaned["brands"]), store_ids=list(cleaned["stores"]),
                    counter_ids=list(cleaned["counters"]))
        try:
            services.campaign_validate(owner=None, **args)
        except AppError as exc:
            names = {"brand_ids": "brands", "store_ids": "stores", "counter_ids": "counters", "target": "target_amount"}
            for name, problems in exc.fields.items():
                self.add_error(names.get(name, name) if names.get(name, name) in self.fields else None, problems)
        self.service_args = args
        return cleaned


def _status_fields(obj) -> tuple:
    return ("figures", "progress_table", "notices_table") if obj is not None else ()


@admin.register(Campaign)
class CampaignAdmin(MallAdmin):
    form = CampaignAdminForm
    list_display = ["title", "owner", "audience", "starts_at", "ends_at", "goal", "state", "claimed", "reached"]
    list_filter = ["state", "metric", "audience", "brand"]
    list_select_related = ["brand"]
    search_fields = ["title"]
    autocomplete_fields = ["brands", "stores", "counters"]
    readonly_fields = ["figures", "progress_table", "notices_table"]
    deletable = False  # claims and the coins ledger point at it; a draft simply stays unpublished
    actions = ["publish", "refresh_progress", "settle"]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["title", "description", "script"]}),
            ("参与对象 Audience", {"fields": ["audience", "brands", "stores", "counters"],
                                   "description": "只填与所选参与对象对应的一项 Fill in only the one the audience uses"}),
            ("时间与目标 Window and goal", {"fields": ["starts_at", "ends_at", "metric",
                                                   "target_amount" if self._editable(request, obj) else "goal"]}),
            ("奖励 Rewards", {"fields": ["reward_coins", "reward_exp", "top_n", "top_coins", "top_exp"]}),
            *([("进度 Progress", {"fields": list(_status_fields(obj))})] if obj is not None else []),
        ]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "goal"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            claims_count=Count("claims"), reached_count=Count("claims", filter=Q(claims__reached=True)))

    def _editable(self, request, obj) -> bool:
        return obj is None or (obj.brand_id is None and obj.state == CampaignState.DRAFT)

    def has_change_permission(self, request, obj=None):
        # a published campaign's terms are what guides claimed; a brand's campaign is the brand's to edit
        return super().has_change_permission(request, obj) and (obj is None or self._editable(request, obj))

    def save_model(self, request, obj, form, change):
        saved = services.campaign_save(owner=None, actor=admin_actor(request), campaign_id=obj.pk if change else None,
                                       **form.service_args)
        adopt(obj, saved)

    def save_related(self, request, form, formsets, change):
        pass  # the service set the audience's brands, stores and counters with the campaign

    # ---- columns and read-only blocks

    @admin.display(description="发起方 Owner", ordering="brand__name")
    def owner(self, obj):
        return obj.owner_label

    @admin.display(description="目标 Goal")
    def goal(self, obj):
        return f"{obj.get_metric_display()} ≥ {obj.target_label}" if obj and obj.pk else "—"

    @admin.display(description="领取 Claimed", ordering="claims_count")
    def claimed(self, obj):
        return obj.claims_count

    @admin.display(description="达标 Reached", ordering="reached_count")
    def reached(self, obj):
        return obj.reached_count

    @admin.display(description="概况 Figures")
    def figures(self, obj):
        f = selectors.campaign_figures(campaign=obj)
        as_of = f"{obj.progress_at:%Y-%m-%d %H:%M}" if obj.progress_at else "—"
        return format_html("参与范围 Audience <b>{}</b> · 领取 Claimed <b>{}</b> · 达标 Reached <b>{}</b> · 合计 Total "
                           "<b>{}</b> · 已发放 Credited <b>{}</b> 金币 / <b>{}</b> 经验 · 进度更新 As of {}",
                           f["audience"], f["claimed"], f["reached"], f["progress_label"], f["coins"], f["exp"], as_of)

    @admin.display(description="导购进度 Progress by guide")
    def progress_table(self, obj):
        if obj.brand_id and obj.brand.sharing_policy != SharingPolicy.FULL:
            return "仅汇总：该品牌只与商场共享汇总数据 Aggregates only: the brand shares aggregates with the mall."
        claims = selectors.campaign_claims(campaign=obj, limit=PROGRESS_ROWS)
        if not claims:
            return "还没有导购领取 No claims yet."
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({}%)</td><td>{}</td>"
                                    "<td>{}</td></tr>",
                                ((c.position, c.guide.name, c.guide.counter.name if c.guide.counter_id else "—",
                                  f"{c.claimed_at:%m-%d %H:%M}", c.progress_label,
                                  c.percent, "✓" if c.reached else "", f"{c.reward_coins} / {c.reward_exp}"
                                  if c.settled_at else "—") for c in claims))
        return format_html("<table><thead><tr><th>#</th><th>导购 Guide</th><th>专柜 Counter</th><th>领取 Claimed</th>"
                           "<th>进度 Progress</th><th>达标 Reached</th><th>发放 Credited</th></tr></thead>"
                           "<tbody>{}</tbody></table>{}", rows,
                           f"仅显示前{PROGRESS_ROWS}名 The first {PROGRESS_ROWS} only." if len(claims) >= PROGRESS_ROWS
                           else "")

    @admin.display(description="企业微信通知 WeCom messages")
    def notices_table(self, obj):
        notices = list(obj.notices.all())
        if not notices:
            return "—"
        return format_html_join(format_html("<br>"), "第{}批 chunk {}: {} 人 recipients · {} · errcode {} · 无效 invalid {}",
                                ((n.seq, n.seq, n.recipients, n.get_status_display(), n.errcode, n.invalid_users)
                                 for n in notices))

    # ---- actions

    @admin.action(description="发布并通知导购 Publish (tells the guides)", permissions=["change"])
    def publish(self, request, queryset):
        done = 0
        for campaign_id in queryset.filter(brand__isnull=True).values_list("pk", flat=True):
            try:
                services.campaign_publish(owner=None, campaign_id=campaign_id, actor=admin_actor(request))
                done += 1
            except AppError as error:
                self.message_user(request, f"#{campaign_id}: {error.message}", level="warning")
        self.message_user(request, f"{done} 个已发布 published (商场活动 mall campaigns only).")

    @admin.action(description="刷新进度 Refresh progress", permissions=["change"])
    def refresh_progress(self, request, queryset):
        updated = sum(services.campaign_progress_refresh(campaign_id=pk)
                      for pk in queryset.filter(state=CampaignState.PUBLISHED).values_list("pk", flat=True))
        self.message_user(request, f"已更新 {updated} 条领取 claims updated.")

    @admin.action(description="结算已结束的活动 Settle ended campaigns", permissions=["change"])
    def settle(self, request, queryset):
        results = [services.campaign_settle(campaign_id=pk)
                   for pk in queryset.filter(state=CampaignState.PUBLISHED).values_list("pk", flat=True)]
        settled = [r for r in results if r.settled]
        self.message_user(request, f"{len(settled)} 个已结算 settled, {sum(r.credited for r in settled)} 人获奖励 "
                                   f"guides rewarded; 其余未结束（含{services.SETTLE_GRACE.seconds // 60}分钟宽限）"
                                   "others have not ended (grace included).")
