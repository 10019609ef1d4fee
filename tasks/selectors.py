"""Reads for guide tasks: a guide's prioritised open tasks (sidebar "today"), and the brand's program, its what-if
preview, completion rates and overdue list (brand dashboard). All run in the current brand schema."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, IntegerField, Value, When

from guides.models import Guide
from members.models import MemberExternalId

from .models import BrandNode, GuideTask, NodeSwitchOff, TaskState, TriggerConfig


def script_for(task: GuideTask, member) -> str:
    """The script with the customer's name filled in (it goes to the customer, so Chinese)."""
    return (task.script or "").replace("{name}", member.name or "亲爱的顾客")


def guide_tasks_open(*, guide: Guide, today: dt.date, member_id: int | None = None):
    """The guide's own open tasks, most urgent first: due today, then issued late (caught up), then by due
    date; lifecycle before triggers, earlier lifecycle days first. A queryset (page it)."""
    rows = (GuideTask.objects.filter(guide_id=guide.pk, state=TaskState.OPEN).select_related("member")
            .annotate(due_today=Case(When(due_on__lte=today, then=Value(0)), default=Value(1),
                                     output_field=IntegerField()))
            .order_by("due_today", "-late", "due_on", "source", "lifecycle_day", "id"))
    if member_id is not None:
        rows = rows.filter(member_id=member_id)
    return rows


def tasks_for_display(tasks: list[GuideTask], *, today: dt.date) -> list[GuideTask]:
    """Fill in what the sidebar shows: personal script, the customer's WeCom ids (for sending), urgency."""
    euids: dict[int, list[str]] = {}
    for member_id, euid in MemberExternalId.objects.filter(
            member_id__in={t.member_id for t in tasks}, corp_id=settings.WECOM_CORP_ID
    ).values_list("member_id", "external_userid"):
        euids.setdefault(member_id, []).append(euid)
    for task in tasks:
        task.personal_script = script_for(task, task.member)
        task.external_userids = euids.get(task.member_id, [])
        task.external_userids_json = json.dumps(task.external_userids)
        task.due_today = task.due_on <= today
    return tasks


def guide_task_counts(*, guide: Guide, today: dt.date) -> dict:
    open_ = GuideTask.objects.filter(guide_id=guide.pk, state=TaskState.OPEN)
    return {"open": open_.count(), "due_today": open_.filter(due_on__lte=today).count(),
            "done_today": GuideTask.objects.filter(guide_id=guide.pk, state=TaskState.DONE,
                                                   completed_at__date=today).count()}


def brand_program() -> dict:
    """The HQ nodes of the published default program (with this brand's switch-offs) and the brand's nodes."""
    from tasks.mall.models import ProgramVersion

    version = (ProgramVersion.objects.filter(program__is_default=True, status="published")
               .select_related("program").first())
    off = set(NodeSwitchOff.objects.values_list("node_key", flat=True))
    hq_nodes = list(version.nodes.select_related("coupon_template").order_by("day_offset", "key")) if version else []
    for node in hq_nodes:
        node.is_off = node.optional and node.key in off
    return {"version": version, "hq_nodes": hq_nodes,
            "brand_nodes": list(BrandNode.objects.select_related("coupon_template").order_by("day_offset", "id")),
            "triggers": list(TriggerConfig.objects.order_by("kind"))}


OVERDUE_EXPIRED_DAYS = 7


def _overdue(today: dt.date):
    from django.db.models import Q

    return GuideTask.objects.filter(
        Q(state=TaskState.OPEN, due_on__lte=today)
        | Q(state=TaskState.EXPIRED, due_on__gte=today - dt.timedelta(days=OVERDUE_EXPIRED_DAYS)))


def overdue_tasks(*, today: dt.date, limit: int = 100) -> list[GuideTask]:
    """Open tasks at or past their due date (the night's run expires those past it) and tasks that expired in the
    last 7 days, oldest first, with guide and customer: for the brand's managers."""
    return list(_overdue(today).select_related("member", "guide").order_by("due_on", "id")[:limit])


def overdue_counts(*, today: dt.date) -> dict:
    """How many tasks ``overdue_tasks`` lists, by state (the mall's view: counts, no customers)."""
    from django.db.models import Count, Q

    return _overdue(today).aggregate(open=Count("pk", filter=Q(state=TaskState.OPEN)),
                                     expired=Count("pk", filter=Q(state=TaskState.EXPIRED)))


# --------------------------------------------------------------------------- what-if preview (预览)
#
# "If this program were in force, how many tasks would the engine create each day of the next 28 days for the
# customers we have now?" One statement per brand: the 28 days (generate_series) x the node set, joined on
# day 0 = day - offset with the brand's active relationships, counted per day and guide. It follows the engine's
# rules exactly (tasks.engine): the first night also catches up node days after the last run while their window
# is open and looks at every node of relationships added since that run started; a (member, node, day 0) issued
# already, or by two relationships at once, counts once; the lower relationship id wins the guide, as the
# engine's ORDER BY does.
#
# The brand's enabled event triggers are counted too, where today's data already dates them (tasks.triggers):
# birthdays, points and coupons expiring, coupons viewed and not used, customers falling dormant if nothing more
# happens, 100 days in a group. They are found once per preview into a temporary table and added to each node
# set's tasks per day and guide (a trigger task goes to the guide who has served the customer longest, as the
# engine places it). What it cannot know is left out: customers added or lost later, tier upgrades (they happen
# when a customer buys), activity that would wake a dormant customer, and coupons or points granted later.

PREVIEW_DAYS = 28
PREVIEW_BUSIEST = 3


@dataclass(frozen=True)
class PreviewNode:
    """A lifecycle node as the engine sees it: the task's ref ("hq:d7", "brand:12"), its day and due window."""

    ref: str
    day_offset: int
    due_window_days: int


@dataclass
class PreviewDay:
    day: dt.date
    total: int  # lifecycle + trigger tasks
    guides: int  # guides with at least one task that day
    max_per_guide: int
    busiest: list[dict]  # [{"guide_id", "tasks", "name"?}], most tasks first
    current: int | None = None  # the same day under the node set in force now
    lifecycle: int = 0
    triggers: int = 0  # the same under either node set

    @property
    def avg_per_guide(self) -> float:
        return round(self.total / self.guides, 1) if self.guides else 0.0

    @property
    def change(self) -> int | None:
        return None if self.current is None else self.total - self.current


@dataclass
class Preview:
    first: dt.date
    last: dt.date
    relationships: int  # active relationships whose day 0 is recent enough for a node to fall in the window
    days: list[PreviewDay] = field(default_factory=list)
    day0_from: dt.date | None = None  # ... that is, added since this day
    # the enabled triggers counted, [{"kind", "label", "tasks"}], and those that cannot be dated ahead
    trigger_kinds: list[dict] = field(default_factory=list)
    triggers_not_counted: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(d.total for d in self.days)

    @property
    def lifecycle_total(self) -> int:
        return sum(d.lifecycle for d in self.days)

    @property
    def triggers_total(self) -> int:
        return sum(d.triggers for d in self.days)

    @property
    def current_total(self) -> int | None:
        return None if any(d.current is None for d in self.days) else sum(d.current for d in self.days)

    @property
    def change(self) -> int | None:
        current = self.current_total
        return None if current is None else self.total - current

    @property
    def peak(self) -> PreviewDay | None:
        return max(self.days, key=lambda d: (d.total, -d.day.toordinal()), default=None)

    @property
    def max_per_guide(self) -> int:
        return max((d.max_per_guide for d in self.days), default=0)

    def chart(self, *, width: int = 1000, height: int = 160) -> dict:
        """Coordinates for an inline SVG: a bar per day (this preview; its trigger tasks stacked on top of
        its lifecycle tasks), a tick at the current node set's count, a label every 7 days. The template only
        places what is computed here."""
        top = max([d.total for d in self.days] + [d.current or 0 for d in self.days] + [1])
        step = width / max(len(self.days), 1)
        scale = (height - 10) / top
        bars = []
        for i, d in enumerate(self.days):
            x, w, h = round(i * step + 1, 1), round(max(step - 2, 1), 1), round(d.total * scale, 1)
            th = round(d.triggers * scale, 1)
            bars.append({"x": x, "w": w, "x2": round(x + w, 1), "y": round(height - h, 1), "h": h, "day": d.day,
                         "total": d.total, "lifecycle": d.lifecycle, "triggers": d.triggers, "th": th,
                         "current": d.current, "label": i % 7 == 0,
                         "current_y": None if d.current is None else round(height - d.current * scale, 1)})
        return {"width": width, "height": height, "top": top, "top_y": round(height - top * scale, 1),
                "label_y": height + 14, "view_height": height + 20, "bars": bars}


_NODES_SQL = """
SELECT 'hq:' || n.key, n.day_offset, n.due_window_days
  FROM tasks_mall_programnode n
 WHERE n.version_id = %(version)s
   AND NOT (n.optional AND EXISTS (SELECT 1 FROM tasks_nodeswitchoff s WHERE s.node_key = n.key))
UNION ALL
SELECT 'brand:' || b.id, b.day_offset, b.due_window_days FROM tasks_brandnode b WHERE b.is_active
ORDER BY 2, 1
"""


def lifecycle_nodes(*, hq_version_id: int | None = None) -> list[PreviewNode]:
    """The node set the engine issues from in the current brand: the HQ default program's published version
    (or ``hq_version_id``, e.g. a draft) less the optional nodes this brand switched off, plus its active nodes."""
    from tasks.mall.models import ProgramVersion

    if hq_version_id is None:
        hq_version_id = (ProgramVersion.objects.filter(program__is_default=True, status="published")
                         .values_list("pk", flat=True).first())
    with connection.cursor() as cursor:
        cursor.execute(_NODES_SQL, {"version": hq_version_id or 0})
        return [PreviewNode(*row) for row in cursor.fetchall()]


def nodes_with_proposal(nodes: list[PreviewNode], *, day_offset: int, due_window_days: int,
                        brand_node_id: int | None = None) -> list[PreviewNode]:
    """``nodes`` with a brand node added (``brand_node_id`` None) or one of its brand nodes changed."""
    ref = f"brand:{brand_node_id}" if brand_node_id else "brand:new"
    return [n for n in nodes if n.ref != ref] + [PreviewNode(ref, day_offset, due_window_days)]


_PREVIEW_SQL = """
WITH nodes AS (
    SELECT * FROM unnest(%(refs)s::text[], %(offsets)s::int[], %(windows)s::int[]) AS n(ref, day_offset, due_window_days)
),
rel AS (
    SELECT r.id, r.guide_id, r.member_id, (r.added_at AT TIME ZONE %(tz)s)::date AS day0,
           COALESCE(r.added_at >= %(since)s OR r.id > %(seen_id)s, false) AS fresh
      FROM brandguides_relationship r
     WHERE r.status = 'active'
       AND r.added_at >= ((%(low)s::date)::timestamp AT TIME ZONE %(tz)s)
       AND r.added_at < ((%(last)s::date + 1)::timestamp AT TIME ZONE %(tz)s)
),
candidates AS (
    -- every later night: the nodes whose day is that night's day
    SELECT g.day::date AS day, r.id, r.guide_id, r.member_id, r.day0, n.ref
      FROM generate_series(%(first)s::date + 1, %(last)s::date, interval '1 day') AS g(day)
      CROSS JOIN nodes n
      JOIN rel r ON r.day0 = g.day::date - n.day_offset
    UNION ALL
    -- the first night: node days since the last run, and new relationships, while the window is open
    SELECT %(first)s::date, r.id, r.guide_id, r.member_id, r.day0, n.ref
      FROM rel r
      JOIN nodes n ON r.day0 + n.day_offset <= %(first)s::date
                  AND r.day0 + n.day_offset + n.due_window_days - 1 >= %(first)s::date
                  AND (r.day0 + n.day_offset > %(after)s::date OR r.fresh)
),
issued AS (
    SELECT DISTINCT ON (c.member_id, c.ref, c.day0) c.day, c.guide_id
      FROM candidates c
     WHERE NOT EXISTS (SELECT 1 FROM tasks_guidetask t
                        WHERE t.source = 'lifecycle' AND t.member_id = c.member_id AND t.ref = c.ref
                          AND t.period = to_char(c.day0, 'YYYY-MM-DD'))
     ORDER BY c.member_id, c.ref, c.day0, c.id
),
work AS (
    SELECT day, guide_id, 1 AS lifecycle FROM issued
    UNION ALL
    SELECT day, guide_id, 0 FROM pg_temp.tasks_preview_trigger
),
per_guide AS (
    SELECT day, guide_id, count(*) AS tasks, sum(lifecycle) AS lifecycle,
           row_number() OVER (PARTITION BY day ORDER BY count(*) DESC, guide_id) AS pos
      FROM work GROUP BY day, guide_id
)
SELECT g.day::date, COALESCE(sum(p.tasks), 0)::int, count(p.guide_id)::int, COALESCE(max(p.tasks), 0)::int,
       COALESCE(array_agg(p.guide_id ORDER BY p.pos) FILTER (WHERE p.pos <= %(busiest)s), '{}'),
       COALESCE(array_agg(p.tasks ORDER BY p.pos) FILTER (WHERE p.pos <= %(busiest)s), '{}'),
       (SELECT count(*) FROM rel)::int, COALESCE(sum(p.lifecycle), 0)::int
  FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS g(day)
  LEFT JOIN per_guide p ON p.day = g.day::date
 GROUP BY g.day ORDER BY g.day
"""


def _preview_params(*, today: dt.date, days: int) -> dict:
    """Where the engine's nights will start from: the watermark of the last finished run (tasks.engine).

    The preview's first night is tomorrow. If today's run has not happened yet it will, and see every customer
    we have now; otherwise tomorrow's run catches up after it, and sees the customers added since it started.
    """
    from .engine import SINCE_MARGIN
    from .models import EngineRun

    first = today + dt.timedelta(days=1)
    last = (EngineRun.objects.filter(finished_at__isnull=False).order_by("-day", "-id")
            .values("day", "started_at", "max_relationship_id").first())
    params = {"first": first, "last": first + dt.timedelta(days=days - 1), "after": today, "since": None,
              "seen_id": None, "tz": settings.TIME_ZONE, "busiest": PREVIEW_BUSIEST, "today": today,
              "pending": True}
    if last and last["day"] >= today:
        params.update(after=last["day"], since=last["started_at"] - SINCE_MARGIN,
                      seen_id=last["max_relationship_id"], pending=False)
    return params


def _day0_from(nodes: list[PreviewNode], first: dt.date) -> dt.date:
    """The earliest day 0 for which some node can still be issued on ``first`` or later."""
    return first - dt.timedelta(days=max((n.day_offset + n.due_window_days for n in nodes), default=0))


def _preview_rows(nodes: list[PreviewNode], params: dict) -> list[tuple]:
    """Per day of the preview: total, guides, most per guide, busiest guides and their counts, relationships in
    the lifecycle, lifecycle tasks. Adds the trigger tasks already in ``pg_temp.tasks_preview_trigger``."""
    sql_params = {**params, "refs": [n.ref for n in nodes], "offsets": [n.day_offset for n in nodes],
                  "windows": [n.due_window_days for n in nodes], "low": _day0_from(nodes, params["first"])}
    with connection.cursor() as cursor:
        cursor.execute(_PREVIEW_SQL, sql_params)
        return cursor.fetchall()


# Trigger tasks in the preview. The events of the engine's queries (tasks.triggers.EVENTS) over the whole preview
# window where the event carries its own day (birthday, viewed coupon, dormant, days in a group); for points and
# coupons expiring the engine's event is "the night it first sees the expiry within N days", dated here from the
# expiry itself (points: the earliest lot of each month of expiry).
_EXPIRING_EVENTS = {
    "points_expiring": """
        SELECT e.member_id, to_char(e.expires_on, 'YYYY-MM') AS period,
               GREATEST(%(preview_first)s::date, e.expires_on - %(n)s) AS event_day, e.expires_on AS due_cap
          FROM (SELECT pe.member_id, min((pe.expires_at AT TIME ZONE %(tz)s)::date) AS expires_on
                  FROM members_pointsentry pe
                 WHERE pe.remaining > 0
                   AND pe.expires_at >= (%(preview_first)s::date)::timestamp AT TIME ZONE %(tz)s
                   AND pe.expires_at < (%(day)s::date + %(n)s + 1)::timestamp AT TIME ZONE %(tz)s
                 GROUP BY pe.member_id, date_trunc('month', pe.expires_at AT TIME ZONE %(tz)s)) e
         WHERE e.expires_on - %(n)s > %(cutoff)s
    """,
    "coupon_expiring": """
        SELECT c.member_id, c.code AS period,
               GREATEST(%(preview_first)s::date, (c.valid_until AT TIME ZONE %(tz)s)::date - %(n)s) AS event_day,
               (c.valid_until AT TIME ZONE %(tz)s)::date AS due_cap
          FROM brandmembers_brandcoupon c
         WHERE c.state IN ('issued', 'viewed')
           AND c.valid_until >= (%(preview_first)s::date)::timestamp AT TIME ZONE %(tz)s
           AND c.valid_until < (%(day)s::date + %(n)s + 1)::timestamp AT TIME ZONE %(tz)s
           AND (c.valid_until AT TIME ZONE %(tz)s)::date - %(n)s > %(cutoff)s
    """,
    "coupon_viewed_unused": """
        SELECT c.member_id, c.code AS period,
               ((c.viewed_at + make_interval(hours => %(n)s)) AT TIME ZONE %(tz)s)::date AS event_day,
               (c.valid_until AT TIME ZONE %(tz)s)::date AS due_cap
          FROM brandmembers_brandcoupon c
         WHERE c.state = 'viewed'
           AND c.viewed_at + make_interval(hours => %(n)s) >= (%(first)s::date)::timestamp AT TIME ZONE %(tz)s
           AND c.viewed_at + make_interval(hours => %(n)s) < (%(day)s::date + 1)::timestamp AT TIME ZONE %(tz)s
    """,
}
# A tier upgrade happens when a customer buys: nothing today says when.
TRIGGERS_NOT_FORECAST = ("tier_upgrade",)

_TRIGGER_TABLE = """
CREATE TEMPORARY TABLE IF NOT EXISTS tasks_preview_trigger (day date, guide_id bigint, kind text) ON COMMIT DROP
"""

_TRIGGER_PREVIEW_INSERT = """
WITH events AS ({events}),
placed AS (
    SELECT e.member_id, e.period, GREATEST(e.event_day, %(preview_first)s::date) AS day,
           LEAST(e.event_day + %(window)s - 1, COALESCE(e.due_cap, 'infinity'::date)) AS due_on, s.guide_id
      FROM events e
      CROSS JOIN LATERAL (SELECT r.guide_id FROM brandguides_relationship r
                           WHERE r.member_id = e.member_id AND r.status = 'active'
                           ORDER BY r.added_at, r.id LIMIT 1) s
     WHERE e.event_day > %(cutoff)s AND e.event_day <= %(day)s
)
INSERT INTO pg_temp.tasks_preview_trigger (day, guide_id, kind)
SELECT DISTINCT ON (p.member_id, p.period) p.day, p.guide_id, %(kind)s
  FROM placed p
 WHERE p.due_on >= p.day
   AND NOT EXISTS (SELECT 1 FROM tasks_guidetask t
                    WHERE t.source = 'trigger' AND t.member_id = p.member_id AND t.ref = %(ref)s
                      AND t.period = p.period)
 ORDER BY p.member_id, p.period, p.day
"""


def _triggers_project(params: dict, *, brand_id: int | None) -> tuple[list[dict], list[str]]:
    """Fill ``pg_temp.tasks_preview_trigger`` with the trigger tasks the engine would issue on the preview's
    nights, (day, guide, kind), one statement per enabled trigger. Returns the kinds counted, with their tasks in
    the window, and the labels of the enabled kinds that cannot be dated ahead. Call inside a transaction."""
    from .triggers import EVENTS, _birthday_keys

    with connection.cursor() as cursor:
        cursor.execute(_TRIGGER_TABLE)
        cursor.execute("TRUNCATE pg_temp.tasks_preview_trigger")
        if brand_id is None:
            return [], []
        counted, not_counted = [], []
        for config in TriggerConfig.objects.filter(is_enabled=True).order_by("kind"):
            if config.kind in TRIGGERS_NOT_FORECAST:
                not_counted.append(config.get_kind_display())
                continue
            # the first night catches up events of its due window; if today's run is still to come, it issues
            # every event up to today (the preview starts after it)
            first = params["first"] - dt.timedelta(days=config.due_window_days - 1)
            cutoff = params["today"] if params["pending"] else first - dt.timedelta(days=1)
            sql_params = {"first": first, "day": params["last"], "preview_first": params["first"],
                          "cutoff": cutoff, "tz": params["tz"], "n": config.offset, "brand_id": brand_id,
                          "window": config.due_window_days, "ref": f"trigger:{config.kind}", "kind": config.kind,
                          # the engine's nightly run (not a same-day re-run): every member of the brand
                          "all_members": True, "since": None, "seen_id": 0}
            if config.kind == "birthday":
                keys, dates, issue = _birthday_keys(first=first, day=params["last"], n=config.offset)
                sql_params.update(bday_keys=keys, bday_dates=dates, bday_issue=issue)
            events = _EXPIRING_EVENTS.get(config.kind) or EVENTS[config.kind]
            cursor.execute(_TRIGGER_PREVIEW_INSERT.format(events=events), sql_params)
            counted.append({"kind": config.kind, "label": config.get_kind_display(), "tasks": cursor.rowcount})
        return counted, not_counted


def program_preview(*, nodes: list[PreviewNode], compare: list[PreviewNode] | None = None,
                    days: int = PREVIEW_DAYS, today: dt.date | None = None, guide_names: bool = True,
                    triggers: bool = True) -> Preview:
    """What-if for the current brand schema: the tasks the engine would create on each of the next ``days``
    nights under the lifecycle ``nodes``, plus the brand's enabled event triggers (``triggers``), for the
    customers there are now (per day: total, lifecycle and trigger tasks, guides with tasks, average and most per
    guide, the busiest guides), beside ``compare`` (the node set in force) if given.

    Set-based: one statement per node set and one per trigger, whatever the number of customers. ``guide_names``
    names the busiest guides (the brand's own dashboard); the mall's cross-brand preview leaves them out.
    """
    from django.utils import timezone

    from tenants.models import Brand

    params = _preview_params(today=today or timezone.localdate(), days=days)
    brand_id = (Brand.objects.filter(schema_name=connection.schema_name).values_list("pk", flat=True).first()
                if triggers else None)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # as in the engine: compiling costs more than running at scale
        kinds, not_counted = _triggers_project(params, brand_id=brand_id)
        current = {row[0]: row[1] for row in _preview_rows(compare, params)} if compare is not None else {}
        rows = _preview_rows(nodes, params)
    preview = Preview(first=params["first"], last=params["last"], relationships=rows[0][6] if rows else 0,
                      day0_from=_day0_from(nodes, params["first"]), trigger_kinds=kinds,
                      triggers_not_counted=not_counted)
    for day, total, guides, most, guide_ids, counts, _, lifecycle in rows:
        preview.days.append(PreviewDay(
            day=day, total=total, guides=guides, max_per_guide=most, current=current.get(day),
            lifecycle=lifecycle, triggers=total - lifecycle,
            busiest=[{"guide_id": g, "tasks": n} for g, n in zip(guide_ids, counts, strict=True)]))
    if guide_names:
        names = dict(Guide.objects.filter(pk__in={b["guide_id"] for d in preview.days for b in d.busiest})
                     .values_list("pk", "name"))
        for d in preview.days:
            for b in d.busiest:
                b["name"] = names.get(b["guide_id"], str(b["guide_id"]))
    return preview


# --------------------------------------------------------------------------- completion rates (完成率)

RATE_PERIODS = (7, 30)
RATE_GROUPS = {"guide": "导购 Guide", "counter": "专柜 Counter", "store": "门店 Store"}

# Tasks issued in the period (cancelled ones left out: the customer left the guide). "On time" = done by the
# end of its due day (Shanghai); "late" = done after it (before the night's run expired it).
RATE_COLUMNS = """
       count(*) AS issued,
       count(*) FILTER (WHERE t.state = 'done') AS done,
       count(*) FILTER (WHERE t.state = 'done' AND (t.completed_at AT TIME ZONE %(tz)s)::date <= t.due_on) AS on_time,
       count(*) FILTER (WHERE t.state = 'expired') AS expired,
       count(*) FILTER (WHERE t.state = 'open') AS open,
       count(*) FILTER (WHERE t.state = 'open' AND t.due_on <= %(today)s) AS overdue,
       count(*) FILTER (WHERE t.state = 'done' AND t.completed_by LIKE 'auto:%%') AS auto_done
"""
RATE_FIELDS = ("issued", "done", "on_time", "expired", "open", "overdue", "auto_done")

_COMPLETION_SQL = f"""
SELECT GROUPING(t.guide_id, g.counter_id, c.store_id) AS level, t.guide_id, g.counter_id, c.store_id, {RATE_COLUMNS}
  FROM tasks_guidetask t
  LEFT JOIN guides_guide g ON g.id = t.guide_id
  LEFT JOIN tenants_counter c ON c.id = g.counter_id
 WHERE t.issued_on BETWEEN %(since)s AND %(today)s AND t.state <> 'cancelled'
 GROUP BY GROUPING SETS ((t.guide_id, g.counter_id, c.store_id), (g.counter_id, c.store_id), (c.store_id), ())
"""
# GROUPING(guide, counter, store) bit mask -> the level of the row
_LEVELS = {0b000: "guide", 0b100: "counter", 0b110: "store", 0b111: "all"}


def rate_figures(row: dict) -> dict:
    """Add late, rate (done / issued) and on-time rate (on time / issued), in whole percent, to a row of counts."""
    issued = row["issued"]
    row["late"] = row["done"] - row["on_time"]
    row["rate"] = round(100 * row["done"] / issued) if issued else None
    row["on_time_rate"] = round(100 * row["on_time"] / issued) if issued else None
    return row


def rate_period(days: int | str | None, *, today: dt.date) -> tuple[int, dt.date]:
    """The period asked for (7 or 30 days, 30 otherwise), ending today: (days, first day)."""
    days = int(days) if str(days) in {str(p) for p in RATE_PERIODS} else RATE_PERIODS[-1]
    return days, today - dt.timedelta(days=days - 1)


def completion_rates(*, today: dt.date, days: int = 30) -> dict:
    """The current brand's tasks issued in the ``days`` days up to ``today``, by guide, counter and store, and in
    all: issued, done (on time / late), expired, open and overdue, with the rates. One grouping-sets statement.
    Lowest completion rate first in each list."""
    from tenants.models import Counter, Store

    days, since = rate_period(days, today=today)
    with connection.cursor() as cursor:
        cursor.execute(_COMPLETION_SQL, {"since": since, "today": today, "tz": settings.TIME_ZONE})
        columns = [col[0] for col in cursor.description]
        rows = [rate_figures(dict(zip(columns, r, strict=True))) for r in cursor.fetchall()]
    by = {level: [] for level in _LEVELS.values()}
    for row in rows:
        by[_LEVELS[row["level"]]].append(row)
    guides = Guide.objects.in_bulk([r["guide_id"] for r in by["guide"]])
    counters = Counter.objects.in_bulk([r["counter_id"] for r in by["counter"] if r["counter_id"]])
    stores = Store.objects.in_bulk([r["store_id"] for r in by["store"] if r["store_id"]])
    for row in by["guide"]:
        row["guide"] = guides.get(row["guide_id"])
        row["name"] = row["guide"].name if row["guide"] else f"#{row['guide_id']}"
    for row in by["counter"]:
        row["name"] = counters[row["counter_id"]].name if row["counter_id"] in counters else "无专柜 No counter"
    for row in by["store"]:
        row["name"] = stores[row["store_id"]].name if row["store_id"] in stores else "无门店 No store"

    def worst_first(row):
        return (row["rate"] if row["rate"] is not None else 101, -row["expired"], row["name"])

    return {"days": days, "since": since, "today": today,
            "total": by["all"][0] if by["all"] else rate_figures(dict.fromkeys(RATE_FIELDS, 0)),
            **{level: sorted(by[level], key=worst_first) for level in RATE_GROUPS}}
