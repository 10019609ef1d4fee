"""Mall ops reads across brands: group tasks (群任务) per brand, per kind and, where the brand shares it, per group.

The mall sees brand data as aggregates: each brand schema counts its own group tasks and active members in the
database, and only those counts leave it. A brand whose sharing policy is "full" (全部共享) also shows its groups by
name (group, store, owner guide: the guide directory is the mall's); an "aggregates only" brand shows its totals
and nothing per group.

Tasks counted: those issued in the period (cancelled ones left out: the group was dismissed). Active members are
the groups' customers active in the last 7 days (tasks.community.selectors: joined, bought here or redeemed a
coupon of the brand), whatever the period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection
from django_tenants.utils import schema_context

from guides.models import Guide
from tasks.selectors import rate_period
from tenants.models import Brand, BrandStatus, SharingPolicy, Store

from .models import GroupTaskKind
from .selectors import ACTIVITY_DAYS, groups_activity

COUNTS = ("issued", "done", "expired", "open", "overdue")

# per group of the brand: live groups (with their customers) and groups with tasks in the period
_GROUP_SQL = """
WITH t AS (
    SELECT t.group_id, count(*) AS issued,
           count(*) FILTER (WHERE t.state = 'done') AS done,
           count(*) FILTER (WHERE t.state = 'expired') AS expired,
           count(*) FILTER (WHERE t.state = 'open') AS open,
           count(*) FILTER (WHERE t.state = 'open' AND t.due_on < %(today)s) AS overdue
      FROM communitybrand_grouptask t
     WHERE t.issued_on BETWEEN %(since)s AND %(today)s AND t.state <> 'cancelled'
     GROUP BY t.group_id
)
SELECT g.id, g.name, g.status, g.store_id, g.owner_id, g.customer_count,
       COALESCE(t.issued, 0), COALESCE(t.done, 0), COALESCE(t.expired, 0), COALESCE(t.open, 0),
       COALESCE(t.overdue, 0)
  FROM brandguides_customergroup g
  LEFT JOIN t ON t.group_id = g.id
 WHERE g.status = 'normal' OR t.group_id IS NOT NULL
 ORDER BY g.id
"""

_KIND_SQL = """
SELECT t.kind, count(*), count(*) FILTER (WHERE t.state = 'done')
  FROM communitybrand_grouptask t
 WHERE t.issued_on BETWEEN %(since)s AND %(today)s AND t.state <> 'cancelled'
 GROUP BY t.kind
"""


def _rate(row) -> int | None:
    return round(100 * row.done / row.issued) if row.issued else None


@dataclass
class GroupRow:
    """One group of a brand that shares its data in full."""

    pk: int
    name: str
    live: bool
    store: str
    owner: str
    customers: int
    active: int
    issued: int
    done: int
    expired: int
    open: int
    overdue: int

    @property
    def rate(self) -> int | None:
        return _rate(self)


@dataclass
class BrandGroups:
    """A brand's groups in sum; ``groups`` lists them only if the brand shares its data in full."""

    brand: Brand
    shares_groups: bool
    live_groups: int = 0
    customers: int = 0
    active: int = 0
    issued: int = 0
    done: int = 0
    expired: int = 0
    open: int = 0
    overdue: int = 0
    groups: list[GroupRow] = field(default_factory=list)

    @property
    def rate(self) -> int | None:
        return _rate(self)

    @property
    def active_rate(self) -> int | None:
        return round(100 * self.active / self.customers) if self.customers else None


def _brands() -> list[Brand]:
    """Active brands whose schema has the group-task table (a brand being created may not yet)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT b.id FROM public.tenants_brand b
              JOIN information_schema.tables t
                ON t.table_schema = b.schema_name AND t.table_name = 'communitybrand_grouptask'
             WHERE b.schema_name <> 'public'""")
        ids = [row[0] for row in cursor.fetchall()]
    return list(Brand.objects.filter(pk__in=ids, status=BrandStatus.ACTIVE).order_by("name"))


def _brand_groups(brand: Brand, params: dict, kinds: dict[str, dict]) -> BrandGroups:
    """Counts of one brand, read inside its schema (three statements); adds its tasks per kind to ``kinds``."""
    row = BrandGroups(brand=brand, shares_groups=brand.sharing_policy == SharingPolicy.FULL)
    with schema_context(brand.schema_name), connection.cursor() as cursor:
        cursor.execute(_GROUP_SQL, params)
        groups = cursor.fetchall()
        cursor.execute(_KIND_SQL, params)
        for kind, issued, done in cursor.fetchall():
            kinds[kind]["issued"] += issued
            kinds[kind]["done"] += done
        live = [g for g in groups if g[2] == "normal"]
        activity = groups_activity(group_ids=[g[0] for g in live], brand=brand)
    row.live_groups = len(live)
    row.customers = sum(g[5] for g in live)
    row.active = sum(a.active for a in activity.values())
    for g in groups:
        for name, value in zip(COUNTS, g[6:], strict=True):
            setattr(row, name, getattr(row, name) + value)
    if row.shares_groups:
        stores = Store.objects.in_bulk({g[3] for g in groups if g[3]})
        owners = Guide.objects.in_bulk({g[4] for g in groups if g[4]})
        row.groups = [GroupRow(pk=g[0], name=g[1] or "未命名群 Unnamed group", live=g[2] == "normal",
                               store=stores[g[3]].name if g[3] in stores else "—",
                               owner=owners[g[4]].name if g[4] in owners else "—", customers=g[5],
                               active=activity[g[0]].active if g[0] in activity else 0,
                               **dict(zip(COUNTS, g[6:], strict=True)))
                      for g in groups]
        row.groups.sort(key=lambda r: (r.rate if r.rate is not None else 101, -r.overdue, r.name))
    return row


def group_tasks_all_brands(*, today: dt.date, days: int | str | None = 30) -> dict:
    """Group tasks issued in the ``days`` days up to ``today`` in every active brand: per brand (live groups,
    their customers, active members, issued / done / expired / open / overdue, the rates), per kind of task, and in
    all; per group only for brands that share their data in full. Lowest completion rate first."""
    days, since = rate_period(days, today=today)
    params = {"since": since, "today": today}
    kinds = {value: {"kind": value, "label": label, "issued": 0, "done": 0}
             for value, label in GroupTaskKind.choices}
    brands = [_brand_groups(brand, params, kinds) for brand in _brands()]
    total = BrandGroups(brand=None, shares_groups=False)
    for row in brands:
        for name in ("live_groups", "customers", "active", *COUNTS):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    brands.sort(key=lambda r: (r.rate if r.rate is not None else 101, -r.overdue, r.brand.name))
    for kind in kinds.values():
        kind["rate"] = round(100 * kind["done"] / kind["issued"]) if kind["issued"] else None
    return {"days": days, "since": since, "today": today, "activity_days": ACTIVITY_DAYS, "brands": brands,
            "total": total, "kinds": [k for k in kinds.values() if k["issued"]]}
