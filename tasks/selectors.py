"""Reads for guide tasks: a guide's prioritised open tasks (sidebar "today"), and the brand's program,
completion rates and overdue list (brand dashboard). All run in the current brand schema."""

from __future__ import annotations

import datetime as dt
import json

from django.conf import settings
from django.db import connection
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


_RATES_SQL = """
SELECT t.guide_id,
       count(*) FILTER (WHERE t.state = 'done') AS done,
       count(*) FILTER (WHERE t.state = 'expired') AS expired,
       count(*) FILTER (WHERE t.state = 'open') AS open,
       count(*) FILTER (WHERE t.state = 'done' AND t.completed_by LIKE 'auto:%%') AS auto_done
  FROM tasks_guidetask t
 WHERE t.issued_on >= %(since)s AND t.state <> 'cancelled'
 GROUP BY t.guide_id
"""


def completion_by_guide(*, since: dt.date) -> list[dict]:
    """Per guide, tasks issued since ``since``: done / expired / open and the completion rate (done over
    the tasks that are no longer open). Guides with the lowest rate first."""
    with connection.cursor() as cursor:
        cursor.execute(_RATES_SQL, {"since": since})
        rows = [dict(zip(("guide_id", "done", "expired", "open", "auto_done"), r, strict=True))
                for r in cursor.fetchall()]
    guides = {g.pk: g for g in Guide.objects.select_related("counter__store").filter(pk__in=[r["guide_id"] for r in rows])}
    for row in rows:
        row["guide"] = guides.get(row["guide_id"])
        closed = row["done"] + row["expired"]
        row["rate"] = round(100 * row["done"] / closed) if closed else None
    return sorted(rows, key=lambda r: (r["rate"] if r["rate"] is not None else 101, -r["expired"]))


def overdue_tasks(*, today: dt.date, limit: int = 100) -> list[GuideTask]:
    """Open tasks at or past their due date, and tasks that expired in the last 7 days, oldest first."""
    from django.db.models import Q

    return list(GuideTask.objects.filter(Q(state=TaskState.OPEN, due_on__lte=today)
                                         | Q(state=TaskState.EXPIRED, due_on__gte=today - dt.timedelta(days=7)))
                .select_related("member", "guide").order_by("due_on", "id")[:limit])
