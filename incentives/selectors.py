"""Reads for guide incentives: balances, ranks and recent ledger lines."""

from __future__ import annotations

from dataclasses import dataclass

from .models import GuideBalance, RankRule, RewardEntry


@dataclass(frozen=True)
class GuideStanding:
    coins: int
    exp: int
    rank_code: str
    rank_name: str
    next_rank_name: str | None
    exp_to_next: int | None


def rank_for_exp(exp: int, rules: list[RankRule] | None = None) -> RankRule | None:
    rules = rules if rules is not None else list(RankRule.objects.order_by("min_exp"))
    reached = [rule for rule in rules if rule.min_exp <= exp]
    return reached[-1] if reached else None


def guide_standing(*, guide_id: int) -> GuideStanding:
    """Coins, experience and rank of a guide (rank derived from experience and the current rules)."""
    balance = GuideBalance.objects.filter(guide_id=guide_id).values("coins", "exp").first() or {"coins": 0, "exp": 0}
    rules = list(RankRule.objects.order_by("min_exp"))
    rank = rank_for_exp(balance["exp"], rules)
    following = [rule for rule in rules if rule.min_exp > balance["exp"]]
    return GuideStanding(
        coins=balance["coins"], exp=balance["exp"],
        rank_code=rank.code if rank else "", rank_name=rank.name if rank else "—",
        next_rank_name=following[0].name if following else None,
        exp_to_next=following[0].min_exp - balance["exp"] if following else None,
    )


def guide_entries(*, guide_id: int, limit: int = 20) -> list[RewardEntry]:
    return list(RewardEntry.objects.filter(guide_id=guide_id).order_by("-created_at", "-id")[:limit])


# --------------------------------------------------------------------------- attribution report (brand schema)

REPORT_GROUPS = {
    "guide": ("导购 Guide", "COALESCE(g.name || ' (' || g.wecom_userid || ')', '未归因 Unattributed')"),
    "counter": ("专柜 Counter", "COALESCE(c.name, '—')"),
    "store": ("门店 Store", "COALESCE(s.name, '—')"),
    "channel": ("渠道 Channel", "o.channel"),
    "attributed_by": ("归因方式 Attributed by", "o.attributed_by"),
    "day": ("日期 Day", "to_char(o.paid_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"),
}


def attribution_report(*, start, end, group: str) -> list[dict]:
    """The brand's orders paid in [start, end), grouped: count, sales, refunds, commission, cross-time /
    cross-space. Runs in the current (brand) schema; guide, counter and store names come from the mall's rows."""
    from django.db import connection

    label_sql = REPORT_GROUPS[group][1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {label_sql} AS label,
                   COUNT(*) AS orders,
                   SUM(o.amount_cents) AS sales_cents,
                   SUM(o.refunded_cents) AS refunded_cents,
                   SUM(o.commission_cents - o.commission_reversed_cents) AS commission_cents,
                   COUNT(*) FILTER (WHERE o.cross_time) AS cross_time,
                   COUNT(*) FILTER (WHERE o.cross_space) AS cross_space
            FROM brandincentives_order o
            LEFT JOIN public.guides_guide g ON g.id = o.guide_id
            LEFT JOIN public.tenants_counter c ON c.id = o.counter_id
            LEFT JOIN public.tenants_store s ON s.id = o.store_id
            WHERE o.paid_at >= %s AND o.paid_at < %s
            GROUP BY 1 ORDER BY {"1" if group == "day" else "sales_cents DESC, 1"}
            """,
            [start, end],
        )
        columns = [col[0] for col in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["net_cents"] = row["sales_cents"] - row["refunded_cents"]
    return rows


def star_guides(*, limit: int = 5) -> list[dict]:
    """The mall's featured guides with this month's attributed sales and mall rank (from the live board)."""
    from django.utils import timezone

    from . import leaderboards
    from .feed import redis_client
    from .models import StarGuide

    stars = list(StarGuide.objects.filter(is_active=True, guide__status="active")
                 .select_related("guide__brand", "guide__counter__store")[:limit])
    key = leaderboards.board_key("sales", "month", timezone.now(), "mall", "all")
    try:
        pipe = redis_client().pipeline(transaction=False)
        for star in stars:
            pipe.zscore(key, star.guide_id)
            pipe.zrevrank(key, star.guide_id)
        answers = pipe.execute()
    except Exception:
        answers = [None] * (2 * len(stars))
    out = []
    for index, star in enumerate(stars):
        score, rank = answers[2 * index], answers[2 * index + 1]
        out.append({"name": star.guide.name, "brand": star.guide.brand.name, "headline": star.headline,
                    "story": star.story, "sales": f"{(score or 0) / 100:,.2f}",
                    "rank": rank + 1 if rank is not None else None})
    return out


# --------------------------------------------------------------------------- mall ops: every brand, aggregates only

# group -> (label, the key each brand schema groups by, whether the key belongs to one brand).
# Guides and counters belong to one brand; a store, a channel, a day gather every brand's orders.
MALL_REPORT_GROUPS = {
    "brand": ("品牌 Brand", "NULL::bigint", True),
    "guide": ("导购 Guide", "o.guide_id", True),
    "counter": ("专柜 Counter", "o.counter_id", True),
    "store": ("门店 Store", "o.store_id", False),
    "channel": ("渠道 Channel", "o.channel", False),
    "attributed_by": ("归因方式 Attributed by", "o.attributed_by", False),
    "day": ("日期 Day", "to_char(o.paid_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')", False),
}
_MALL_LABELS = {
    "brand": "b.name",
    "guide": "COALESCE(g.name || ' (' || g.wecom_userid || ')', '未归因 Unattributed')",
    "counter": "COALESCE(c.name, '—')",
    "store": "COALESCE(s.name, '—')",
    "channel": "p.k", "attributed_by": "p.k", "day": "p.k",
}


def _schemas_with(table: str, brand_id: int | None = None) -> list[tuple[int, str]]:
    """(brand id, schema) of the brands whose schema has ``table`` (a brand being created may not yet)."""
    from django.db import connection

    from tenants.models import Brand

    brands = Brand.objects.exclude(schema_name="public")
    if brand_id is not None:
        brands = brands.filter(pk=brand_id)
    schemas = dict(brands.values_list("schema_name", "pk"))
    if not schemas:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE c.relname = %s AND n.nspname = ANY(%s)", [table, list(schemas)])
        return sorted((schemas[name], name) for (name,) in cursor.fetchall())


def attribution_report_all_brands(*, start, end, group: str, brand_id: int | None = None) -> list[dict]:
    """Mall ops: every brand's orders paid in [start, end), grouped by brand, guide, counter, store, channel,
    attribution rule or day. One statement: each brand schema aggregates its own orders (the mall reads brand
    data only as these sums, never an order), and the sums are added up across brands and named from the
    mall's rows. Brand-owned keys (guide, counter) keep their brand; store, channel and day add brands up."""
    from django.db import connection

    label, key, per_brand = MALL_REPORT_GROUPS[group]
    schemas = _schemas_with("brandincentives_order", brand_id)
    if not schemas:
        return []
    quote = connection.ops.quote_name
    parts, params = [], []
    for pk, schema in schemas:
        parts.append(
            f"""SELECT %s::bigint AS brand_id, {key} AS k, COUNT(*) AS orders, SUM(o.amount_cents) AS sales_cents,
                       SUM(o.refunded_cents) AS refunded_cents,
                       SUM(o.commission_cents - o.commission_reversed_cents) AS commission_cents,
                       COUNT(DISTINCT o.guide_id) AS guides,
                       COUNT(*) FILTER (WHERE o.cross_time) AS cross_time,
                       COUNT(*) FILTER (WHERE o.cross_space) AS cross_space
                FROM {quote(schema)}.brandincentives_order o
                WHERE o.paid_at >= %s AND o.paid_at < %s
                GROUP BY 2""")
        params += [pk, start, end]
    brand_key = "p.brand_id" if per_brand else "NULL::bigint"
    # a guide belongs to one brand's schema, so per-brand counts of distinct guides add up across brands
    sql = f"""
        WITH p AS ({" UNION ALL ".join(parts)})
        SELECT {_MALL_LABELS[group]} AS label, {"b.name" if per_brand else "NULL"} AS brand, {brand_key} AS brand_id,
               COUNT(DISTINCT p.brand_id) AS brands, SUM(p.orders)::bigint AS orders,
               SUM(p.sales_cents)::bigint AS sales_cents, SUM(p.refunded_cents)::bigint AS refunded_cents,
               SUM(p.commission_cents)::bigint AS commission_cents, SUM(p.guides)::bigint AS guides,
               SUM(p.cross_time)::bigint AS cross_time, SUM(p.cross_space)::bigint AS cross_space
        FROM p
        LEFT JOIN public.tenants_brand b ON b.id = p.brand_id
        {"LEFT JOIN public.guides_guide g ON g.id = p.k" if group == "guide" else ""}
        {"LEFT JOIN public.tenants_counter c ON c.id = p.k" if group == "counter" else ""}
        {"LEFT JOIN public.tenants_store s ON s.id = p.k" if group == "store" else ""}
        GROUP BY {"p.brand_id, b.name, " if per_brand else ""}p.k, 1
        ORDER BY {"1" if group == "day" else "SUM(p.sales_cents) - SUM(p.refunded_cents) DESC, 1"}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [col[0] for col in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["net_cents"] = row["sales_cents"] - row["refunded_cents"]
    return rows
