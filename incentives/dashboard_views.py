"""Brand dashboard (品牌后台) pages for incentives: the attribution report (exportable as CSV), the
brand's leaderboards, the brand's rewards and the redemptions it approves. Runs in the brand's schema
(tenant middleware)."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from members.brand.dashboard_views import brand_dashboard_view
from scrm.errors import AppError
from tenants.models import Counter

from . import charts, leaderboards, selectors, shop
from .models import Redemption, RedemptionState, Reward

GROUP_CHOICES = [(key, label) for key, (label, _) in selectors.REPORT_GROUPS.items()]


def _may_write(request) -> bool:
    return request.principal.can_write and request.principal.brand_id == request.tenant.pk


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _range(request) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    start = _date(request.GET.get("from"), today.replace(day=1))
    end = _date(request.GET.get("to"), today)
    return (start, end) if start <= end else (end, start)


def _yuan(cents) -> str:
    return f"{(cents or 0) / 100:.2f}"


@brand_dashboard_view
def report(request):
    start, end = _range(request)
    group = request.GET.get("group", "guide")
    group = group if group in selectors.REPORT_GROUPS else "guide"
    tz = timezone.get_current_timezone()
    rows = selectors.attribution_report(start=dt.datetime.combine(start, dt.time.min, tz),
                                        end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tz),
                                        group=group)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (f'attachment; filename="attribution-{request.tenant.slug}-{group}-'
                                           f'{start}-{end}.csv"')
        response.write("\ufeff")  # Excel opens UTF-8 Chinese correctly with a BOM
        writer = csv.writer(response)
        writer.writerow([selectors.REPORT_GROUPS[group][0], "订单 Orders", "销售额 Sales", "退款 Refunded",
                         "净额 Net", "佣金 Commission", "跨时间 Cross-time", "跨空间 Cross-space"])
        for row in rows:
            writer.writerow([row["label"], row["orders"], _yuan(row["sales_cents"]), _yuan(row["refunded_cents"]),
                             _yuan(row["net_cents"]), _yuan(row["commission_cents"]), row["cross_time"],
                             row["cross_space"]])
        return response
    top = max((row["net_cents"] for row in rows), default=0) or 1
    for row in rows:
        row["bar"] = max(0, round(100 * row["net_cents"] / top))
        row.update(sales=_yuan(row["sales_cents"]), refunded=_yuan(row["refunded_cents"]),
                   net=_yuan(row["net_cents"]), commission=_yuan(row["commission_cents"]))
    totals = {key: sum(row[key] for row in rows) for key in ("orders", "cross_time", "cross_space")}
    totals["net"] = _yuan(sum(row["net_cents"] for row in rows))
    return render(request, "dashboard/incentives_report.html", {
        "brand": request.tenant, "nav": "incentives", "rows": rows, "group": group, "groups": GROUP_CHOICES,
        "start": start, "end": end, "totals": totals})


@brand_dashboard_view
def rewards(request):
    brand = request.tenant
    return render(request, "dashboard/incentives_rewards.html", {
        "brand": brand, "nav": "incentives", "may_write": _may_write(request),
        "rewards": Reward.objects.filter(brand=brand).order_by("-is_active", "coin_price"),
        "open": Redemption.objects.filter(brand=brand, state__in=[RedemptionState.PENDING, RedemptionState.APPROVED])
        .select_related("guide", "reward").order_by("requested_at")[:100],
        "done": Redemption.objects.filter(brand=brand, state__in=[RedemptionState.FULFILLED, RedemptionState.REJECTED])
        .select_related("guide", "reward")[:30]})


@brand_dashboard_view
@require_POST
def reward_add(request):
    if not _may_write(request):
        messages.warning(request, "只读账号 · Read-only account.")
        return redirect("dashboard:incentives_rewards")
    try:
        price, stock = int(request.POST.get("coin_price", "")), int(request.POST.get("stock", ""))
    except ValueError:
        price = stock = -1
    name = request.POST.get("name", "").strip()
    if not name or len(name) > 100 or price <= 0 or stock < 0:
        messages.warning(request, "请填写名称、正整数金币价格和库存 · Name, a positive coin price and a stock are required.")
        return redirect("dashboard:incentives_rewards")
    Reward.objects.create(brand=request.tenant, name=name, description=request.POST.get("description", "")[:300],
                          kind=request.POST.get("kind") if request.POST.get("kind") in Reward.Kind.values else "gift",
                          coin_price=price, stock=stock)
    messages.success(request, f"已上架 Added: {name}")
    return redirect("dashboard:incentives_rewards")


@brand_dashboard_view
@require_POST
def redemption_action(request, pk: int, action: str):
    if not _may_write(request):
        messages.warning(request, "只读账号 · Read-only account.")
        return redirect("dashboard:incentives_rewards")
    try:
        shop.redemption_advance(redemption_id=pk, action=action, brand_id=request.tenant.pk,
                                actor=request.principal.actor, note=request.POST.get("note", ""))
    except AppError as error:
        messages.warning(request, error.message)
    else:
        messages.success(request, "已更新 Updated.")
    return redirect("dashboard:incentives_rewards")


# --------------------------------------------------------------------------- leaderboards

BRAND_SCOPES = {"brand": "本品牌 Brand", "counter": "专柜 Counter", "store": "门店 Store", "mall": "全商场 Mall"}


@brand_dashboard_view
def leaderboards_page(request):
    """The brand's guides on the mall's boards: the brand's own board, a counter's, or their places in a store
    or the whole mall (other brands' guides are never listed)."""
    brand = request.tenant
    choice = charts.board_choices(request.GET)
    scope = request.GET.get("scope", "brand")
    scope = scope if scope in BRAND_SCOPES else "brand"
    counters = list(Counter.objects.filter(brand=brand).select_related("store").order_by("store__code"))
    picked = next((c for c in counters if str(c.store_id) == request.GET.get("store")), counters[0] if counters else None)
    scope_id = {"brand": brand.pk, "mall": "all", "counter": picked.pk if picked else None,
                "store": picked.store_id if picked else None}[scope]
    board = None
    if scope_id is not None:
        board = leaderboards.board_top(scope=scope, scope_id=scope_id, brand_id=brand.pk, **choice)
    rows, chart = charts.board_display(board) if board else ([], "")
    return render(request, "dashboard/incentives_leaderboards.html", {
        "brand": brand, "nav": "incentives", "rows": rows, "chart": chart, "board": board, "scope": scope,
        "scopes": BRAND_SCOPES.items(), "metrics": leaderboards.METRICS.items(),
        "periods": leaderboards.PERIODS.items(), "counters": counters, "picked": picked, **choice})
