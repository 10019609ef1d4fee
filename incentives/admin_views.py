"""Mall ops (Django admin on the mall host) pages for incentives: the attribution report across every brand
(by brand, guide, counter, store, channel, attribution rule or day, with CSV). Wired into
AttributionSettingsAdmin (incentives/admin.py) under /admin/incentives/attributionsettings/.

The mall sees brand data only as aggregates: each brand schema sums its own orders in the database and
only the sums leave it (``selectors.attribution_report_all_brands``)."""

from __future__ import annotations

import csv
import datetime as dt

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from tenants.models import Brand

from . import selectors

PAGE_ROWS = 200  # the page shows the first rows; the CSV has all of them


def _require_view(model_admin, request) -> None:
    if not model_admin.has_view_permission(request):  # mall roles only; brand logins use their dashboard
        raise PermissionDenied


def _context(model_admin, request, title: str, **extra) -> dict:
    return {**model_admin.admin_site.each_context(request), "opts": model_admin.opts, "title": title, **extra}


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


def date_range(request) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    start = _date(request.GET.get("from"), today.replace(day=1))
    end = _date(request.GET.get("to"), today)
    return (start, end) if start <= end else (end, start)


def _brand_id(request, brands: list[Brand]) -> int | None:
    value = request.GET.get("brand", "")
    return next((brand.pk for brand in brands if str(brand.pk) == value), None)


def _yuan(cents) -> str:
    return f"{(cents or 0) / 100:.2f}"


CSV_HEADER = ["品牌数 Brands", "订单 Orders", "销售额 Sales", "退款 Refunded", "净额 Net", "佣金 Commission",
              "出单导购 Guides with sales", "跨时间 Cross-time", "跨空间 Cross-space"]


def attribution_report(model_admin, request):
    _require_view(model_admin, request)
    start, end = date_range(request)
    group = request.GET.get("group", "brand")
    group = group if group in selectors.MALL_REPORT_GROUPS else "brand"
    brands = list(Brand.objects.exclude(schema_name="public").order_by("name"))
    brand_id = _brand_id(request, brands)
    tz = timezone.get_current_timezone()
    rows = selectors.attribution_report_all_brands(
        start=dt.datetime.combine(start, dt.time.min, tz),
        end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tz), group=group, brand_id=brand_id)
    group_label = selectors.MALL_REPORT_GROUPS[group][0]
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        scope = next((b.slug for b in brands if b.pk == brand_id), "all-brands")
        response["Content-Disposition"] = f'attachment; filename="attribution-{scope}-{group}-{start}-{end}.csv"'
        response.write("\ufeff")  # Excel opens UTF-8 Chinese correctly with a BOM
        writer = csv.writer(response)
        writer.writerow([group_label, "品牌 Brand", *CSV_HEADER])
        for row in rows:
            writer.writerow([row["label"], row["brand"] or "", row["brands"], row["orders"], _yuan(row["sales_cents"]),
                             _yuan(row["refunded_cents"]), _yuan(row["net_cents"]), _yuan(row["commission_cents"]),
                             row["guides"], row["cross_time"], row["cross_space"]])
        return response
    top = max((row["net_cents"] for row in rows), default=0) or 1
    shown = rows[:PAGE_ROWS]
    for row in shown:
        row["bar"] = max(0, round(100 * row["net_cents"] / top))
        row.update(sales=_yuan(row["sales_cents"]), refunded=_yuan(row["refunded_cents"]),
                   net=_yuan(row["net_cents"]), commission=_yuan(row["commission_cents"]))
    totals = {key: sum(row[key] for row in rows) for key in ("orders", "cross_time", "cross_space")}
    totals.update({key: _yuan(sum(row[f"{key}_cents"] for row in rows)) for key in ("sales", "refunded", "net",
                                                                                   "commission")})
    query = f"from={start:%Y-%m-%d}&to={end:%Y-%m-%d}&group={group}" + (f"&brand={brand_id}" if brand_id else "")
    return TemplateResponse(request, "admin/incentives/attribution_report.html", _context(
        model_admin, request, "销售归因报表 Attribution report (all brands)", rows=shown, total_rows=len(rows),
        cut=len(rows) > PAGE_ROWS, totals=totals, group=group, group_label=group_label,
        groups=[(key, spec[0]) for key, spec in selectors.MALL_REPORT_GROUPS.items()],
        per_brand=selectors.MALL_REPORT_GROUPS[group][2], brands=brands, brand_id=brand_id, start=start, end=end,
        query=query))


def leaderboards_page(model_admin, request):
    """Any board of the mall: the whole mall, a brand, a store or a brand's counter in a store; top 20 + chart."""
    from tenants.models import Counter, Store

    from . import charts, leaderboards

    _require_view(model_admin, request)
    choice = charts.board_choices(request.GET)
    scope = request.GET.get("scope", "mall")
    scope = scope if scope in leaderboards.SCOPES else "mall"
    brands = list(Brand.objects.exclude(schema_name="public").order_by("name"))
    stores = list(Store.objects.order_by("code"))
    brand_id = _brand_id(request, brands) or (brands[0].pk if brands else None)
    store_id = next((s.pk for s in stores if str(s.pk) == request.GET.get("store", "")), stores[0].pk if stores else None)
    scope_id = {"mall": "all", "brand": brand_id, "store": store_id}.get(scope)
    missing = ""
    if scope == "counter":
        scope_id = Counter.objects.filter(brand_id=brand_id, store_id=store_id).values_list("pk", flat=True).first()
        missing = "" if scope_id else "该品牌在该门店没有专柜 · The brand has no counter in this store."
    board = leaderboards.board_top(scope=scope, scope_id=scope_id, **choice) if scope_id is not None else None
    rows, chart = charts.board_display(board) if board else ([], "")
    return TemplateResponse(request, "admin/incentives/leaderboards.html", _context(
        model_admin, request, "导购排行榜 Guide leaderboards", rows=rows, chart=chart, board=board, scope=scope,
        scopes=leaderboards.SCOPES.items(), metrics=leaderboards.METRICS.items(),
        periods=leaderboards.PERIODS.items(), brands=brands, stores=stores, brand_id=brand_id, store_id=store_id,
        missing=missing, **choice))
