"""Brand dashboard: the brand's campaign tasks (活动任务) for its own guides — list, create or change a draft,
publish, and each campaign's progress per guide — plus the mall's campaigns that reach the brand's guides
(read only, the brand's own guides' progress). Same gate as every dashboard page; changes need a role that
may write. Another brand's campaign is "not found" here, whatever its id."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from members.brand.dashboard_views import _not_found, brand_dashboard_view
from scrm.errors import AppError, NotFound
from tenants.models import Counter, Store

from . import selectors, services
from .models import CampaignAudience, CampaignMetric, CampaignNotice, CampaignState

CLAIM_ROWS = 500

# Chinese first, English second, for every way a field can be wrong before the service looks at it.
FIELD_ERRORS = {
    "required": "必填 Required.",
    "invalid": "格式不正确 Invalid value.",
    "invalid_choice": "选项无效 Invalid choice.",
    "invalid_list": "选项无效 Invalid choice.",
    "invalid_pk_value": "选项无效 Invalid choice.",
    "max_digits": "数字过大 The number is too large.",
    "max_whole_digits": "数字过大 The number is too large.",
    "max_decimal_places": "最多两位小数 At most 2 decimal places.",
}
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _actor(request) -> str:
    return f"user:{request.user.pk}"


def _may_write(request) -> bool:
    if request.principal.can_write:
        return True
    messages.warning(request, "只读账号不能修改 · This account is read-only.")
    return False


def _when(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(label=label, input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"],
                               widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT))


class CampaignForm(forms.Form):
    """A brand campaign: its audience is the brand's own guides (all, at some stores, or at some counters)."""

    title = forms.CharField(label="标题 Title", widget=forms.TextInput(attrs={"maxlength": 100}))
    description = forms.CharField(label="活动说明 Description", required=False,
                                  widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}))
    script = forms.CharField(label="推荐话术 Script (导购可发给顾客 for customers)", required=False,
                             widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}))
    audience = forms.ChoiceField(label="参与对象 Audience", widget=forms.RadioSelect, initial=CampaignAudience.ALL,
                                 choices=[(CampaignAudience.ALL, "本品牌全部导购 All our guides"),
                                          (CampaignAudience.STORES, CampaignAudience.STORES.label),
                                          (CampaignAudience.COUNTERS, CampaignAudience.COUNTERS.label)])
    stores = forms.ModelMultipleChoiceField(label="门店 Stores", queryset=Store.objects.none(), required=False,
                                            widget=forms.CheckboxSelectMultiple)
    counters = forms.ModelMultipleChoiceField(label="专柜 Counters", queryset=Counter.objects.none(), required=False,
                                              widget=forms.CheckboxSelectMultiple)
    starts_at = _when("开始 Starts")
    ends_at = _when("结束 Ends")
    metric = forms.ChoiceField(label="目标指标 Goal metric", choices=CampaignMetric.choices)
    target = forms.DecimalField(label="每人目标 Target per guide (销售额填元 sales in ¥)", max_digits=14,
                                decimal_places=2)
    reward_coins = forms.IntegerField(label="达标金币 Coins for reaching it", initial=50)
    reward_exp = forms.IntegerField(label="达标经验 Experience for reaching it", initial=50)
    top_n = forms.IntegerField(label="前N名加奖 Top-N bonus: N (0 = 不设 none)", initial=0)
    top_coins = forms.IntegerField(label="加奖金币 Bonus coins", initial=0)
    top_exp = forms.IntegerField(label="加奖经验 Bonus experience", initial=0)

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stores"].queryset = Store.objects.filter(counters__brand=brand).distinct().order_by("code")
        self.fields["counters"].queryset = (Counter.objects.filter(brand=brand, is_active=True)
                                            .select_related("store").order_by("code"))
        self.fields["counters"].label_from_instance = lambda c: f"{c.name} · {c.store.name}"
        for field in self.fields.values():
            field.error_messages.update(FIELD_ERRORS)  # validators' messages too: fields swap them in by code

    def clean(self):
        cleaned = super().clean()
        target, metric = cleaned.get("target"), cleaned.get("metric")
        if target is not None and metric:
            if metric == CampaignMetric.SALES:
                cleaned["target"] = int((target * 100).to_integral_value())
            elif target != target.to_integral_value():
                self.add_error("target", "客户数、任务数须为整数 Customers and tasks are whole numbers.")
            else:
                cleaned["target"] = int(target)
        return cleaned

    def service_args(self) -> dict:
        data = dict(self.cleaned_data)
        data["store_ids"] = [s.pk for s in data.pop("stores")]
        data["counter_ids"] = [c.pk for c in data.pop("counters")]
        return data

    def add_service_errors(self, error: AppError) -> None:
        for name, problems in error.fields.items():
            name = {"store_ids": "stores", "counter_ids": "counters"}.get(name, name)
            for problem in problems:
                self.add_error(name if name in self.fields else None, problem)
        if not error.fields:
            self.add_error(None, error.message)


def _initial(campaign=None) -> dict:
    if campaign is None:
        start = timezone.localtime().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        return {"starts_at": start, "ends_at": start + dt.timedelta(days=7), "metric": CampaignMetric.SALES}
    target = Decimal(campaign.target) / 100 if campaign.metric == CampaignMetric.SALES else campaign.target
    return {"title": campaign.title, "description": campaign.description, "script": campaign.script,
            "audience": campaign.audience, "stores": list(campaign.stores.all()),
            "counters": list(campaign.counters.all()), "starts_at": campaign.starts_at, "ends_at": campaign.ends_at,
            "metric": campaign.metric, "target": target, "reward_coins": campaign.reward_coins,
            "reward_exp": campaign.reward_exp, "top_n": campaign.top_n, "top_coins": campaign.top_coins,
            "top_exp": campaign.top_exp}


@brand_dashboard_view
def campaign_list(request):
    """活动任务 · Campaigns: ours (every state) and the mall's that reach our guides."""
    return render(request, "dashboard/campaigns.html", {
        "brand": request.tenant, "nav": "campaigns", **selectors.campaigns_for_brand(brand=request.tenant),
        "now": timezone.now()})


def _save(request, campaign=None):
    brand = request.tenant
    form = CampaignForm(request.POST or None, brand=brand, initial=_initial(campaign))
    if request.method == "POST" and _may_write(request) and form.is_valid():
        try:
            saved = services.campaign_save(owner=brand, actor=_actor(request),
                                           campaign_id=campaign.pk if campaign else None, **form.service_args())
        except AppError as exc:
            form.add_service_errors(exc)
        else:
            if request.POST.get("action") != "publish":
                messages.success(request, f"草稿已保存 · Draft saved: {saved.title}")
                return redirect("dashboard:campaign_detail", pk=saved.pk)
            try:
                services.campaign_publish(owner=brand, campaign_id=saved.pk, actor=_actor(request))
            except AppError as exc:
                messages.warning(request, f"已存为草稿，未发布 · Saved as a draft, not published: {exc.message}")
            else:
                messages.success(request, f"已发布，导购将收到通知 · Published; guides are being told: {saved.title}")
            return redirect("dashboard:campaign_detail", pk=saved.pk)
    return render(request, "dashboard/campaign_form.html", {
        "brand": brand, "nav": "campaigns", "form": form, "campaign": campaign}, status=400 if form.errors else 200)


@brand_dashboard_view
def campaign_new(request):
    return _save(request)


@brand_dashboard_view
def campaign_edit(request, pk: int):
    try:
        campaign = selectors.campaign_for_brand(brand=request.tenant, pk=pk, editable=True)
    except NotFound as exc:
        return _not_found(request, exc.message)
    if campaign.state != CampaignState.DRAFT:
        messages.warning(request, "只有草稿可以修改 · Only a draft can be changed.")
        return redirect("dashboard:campaign_detail", pk=campaign.pk)
    return _save(request, campaign)


@brand_dashboard_view
def campaign_detail(request, pk: int):
    """One campaign: its terms, the audience and claim figures, and the progress of each of our guides."""
    brand = request.tenant
    try:
        campaign = selectors.campaign_for_brand(brand=brand, pk=pk)
    except NotFound as exc:
        return _not_found(request, exc.message)
    own = campaign.brand_id == brand.pk
    return render(request, "dashboard/campaign_detail.html", {
        "brand": brand, "nav": "campaigns", "campaign": campaign, "own": own,
        "figures": selectors.campaign_figures(campaign=campaign, brand=brand),
        "claims": selectors.campaign_claims(campaign=campaign, brand=brand, limit=CLAIM_ROWS),
        "claim_rows": CLAIM_ROWS,
        "notices": list(CampaignNotice.objects.filter(campaign=campaign)) if own else [],
        "audience_items": _audience_items(campaign),
        "now": timezone.now(),
    })


def _audience_items(campaign) -> list[str]:
    if campaign.audience == CampaignAudience.STORES:
        return [s.name for s in campaign.stores.all()]
    if campaign.audience == CampaignAudience.COUNTERS:
        return [c.name for c in campaign.counters.all()]
    if campaign.audience == CampaignAudience.BRANDS:
        return [b.name for b in campaign.brands.all()]
    return []


@require_POST
@brand_dashboard_view
def campaign_publish(request, pk: int):
    if _may_write(request):
        try:
            campaign = services.campaign_publish(owner=request.tenant, campaign_id=pk, actor=_actor(request))
        except NotFound as exc:
            return _not_found(request, exc.message)
        except AppError as exc:
            messages.warning(request, exc.message)
        else:
            messages.success(request, f"已发布，导购将收到通知 · Published; guides are being told: {campaign.title}")
    return redirect("dashboard:campaign_detail", pk=pk)


@require_POST
@brand_dashboard_view
def campaign_refresh(request, pk: int):
    """Measure our campaign's progress now instead of at the next 5-minute run."""
    try:
        campaign = selectors.campaign_for_brand(brand=request.tenant, pk=pk, editable=True)
    except NotFound as exc:
        return _not_found(request, exc.message)
    updated = services.campaign_progress_refresh(campaign_id=campaign.pk)
    messages.success(request, f"进度已更新 · Progress updated ({updated})")
    return redirect("dashboard:campaign_detail", pk=pk)
