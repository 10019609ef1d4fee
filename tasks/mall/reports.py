"""Mall ops reads across brands: guide-task completion by brand, store and counter.

The mall sees brand data only as aggregates: each brand schema counts its own tasks per counter in the database
and only those counts leave it; no task, customer or guide row does. Counters and stores are the mall's rows
(a guide's current counter), so a store adds up every brand's counters in it.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection

from tasks.selectors import RATE_COLUMNS, RATE_FIELDS, rate_figures, rate_period
from tenants.models import Brand, Counter, Store

_SUMS = ", ".join(f"SUM(p.{name})::bigint AS {name}" for name in RATE_FIELDS)
# GROUPING(brand, counter, store) bit mask -> the level of the row
_LEVELS = {0b011: "brand", 0b000: "counter", 0b110: "store", 0b111: "all"}


def _brand_schemas() -> list[tuple[int, str]]:
    """(brand id, schema) of every brand whose schema has the task table (a brand being created may not yet)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT b.id, b.schema_name FROM public.tenants_brand b
              JOIN information_schema.tables t ON t.table_schema = b.schema_name AND t.table_name = 'tasks_guidetask'
             WHERE b.schema_name <> 'public' ORDER BY b.id""")
        return cursor.fetchall()


def completion_all_brands(*, today: dt.date, days: int = 30) -> dict:
    """Tasks issued in the ``days`` days up to ``today`` in every brand: issued, done (on time / late), expired,
    open, overdue and the rates, by brand, by store, by counter and in all. One statement: a UNION ALL of each
    brand's per-counter counts, summed with grouping sets."""
    days, since = rate_period(days, today=today)
    result = {"days": days, "since": since, "today": today, "brand": [], "store": [], "counter": [],
              "total": rate_figures(dict.fromkeys(RATE_FIELDS, 0))}
    schemas = _brand_schemas()
    if not schemas:
        return result
    quote = connection.ops.quote_name
    parts = [f"""
            SELECT {int(brand_id)}::bigint AS brand_id, g.counter_id, {RATE_COLUMNS}
              FROM {quote(schema)}.tasks_guidetask t
              LEFT JOIN public.guides_guide g ON g.id = t.guide_id
             WHERE t.issued_on BETWEEN %(since)s AND %(today)s AND t.state <> 'cancelled'
             GROUP BY g.counter_id""" for brand_id, schema in schemas]
    sql = f"""
        WITH p AS ({" UNION ALL ".join(parts)})
        SELECT GROUPING(p.brand_id, p.counter_id, c.store_id) AS level, p.brand_id, p.counter_id, c.store_id,
               {_SUMS}
          FROM p LEFT JOIN public.tenants_counter c ON c.id = p.counter_id
         GROUP BY GROUPING SETS ((p.brand_id), (p.brand_id, p.counter_id, c.store_id), (c.store_id), ())
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"since": since, "today": today, "tz": settings.TIME_ZONE})
        columns = [col[0] for col in cursor.description]
        rows = [rate_figures(dict(zip(columns, r, strict=True))) for r in cursor.fetchall()]
    brands = Brand.objects.in_bulk([r["brand_id"] for r in rows if r["brand_id"]])
    counters = Counter.objects.in_bulk([r["counter_id"] for r in rows if r["counter_id"]])
    stores = Store.objects.in_bulk([r["store_id"] for r in rows if r["store_id"]])
    for row in rows:
        level = _LEVELS[row["level"]]
        brand = brands.get(row["brand_id"])
        row["brand_name"] = brand.name if brand else ""
        if level == "brand":
            row["name"] = row["brand_name"]
        elif level == "counter":
            row["name"] = counters[row["counter_id"]].name if row["counter_id"] in counters else "无专柜 No counter"
        elif level == "store":
            row["name"] = stores[row["store_id"]].name if row["store_id"] in stores else "无门店 No store"
        if level == "all":
            result["total"] = row
        else:
            result[level].append(row)
    for level in ("brand", "store", "counter"):
        result[level].sort(key=lambda r: (r["rate"] if r["rate"] is not None else 101, -r["expired"], r["name"]))
    return result
