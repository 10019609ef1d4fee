"""Reads for group tasks (群任务): a guide's own group tasks (sidebar "today"), and per-group activity, the HQ
nodes and a group's tasks for the brand's managers (brand dashboard). All run in the current brand schema.

Active members (活跃成员), as the groups page counts them: customers still in the group who, in the last 7 days,
joined it, bought at this brand (points earned here), or redeemed a coupon of this brand (a brand coupon, or a
mall coupon one of the brand's guides issued). What customers say in the group is not counted: the platform
does not archive chat messages, and WeCom's group statistics (groupchat/statistic) are per owner and day, not
per member.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from guides.models import Guide
from tenants.models import Brand

from .brand.models import GroupNodeSwitchOff, GroupTask, GroupTaskState
from .models import InterestTag

ACTIVITY_DAYS = 7
DONE_DAYS = 30
TODAY_ROWS = 20
NAMES_SHOWN = 10


def fill_script(task: GroupTask, group_name: str) -> str:
    """The script with the group's name and the milestone members' names (it goes into the group: Chinese)."""
    names = [s.get("name") or "群友" for s in (task.subjects or [])[:NAMES_SHOWN]]
    shown = "、".join(names) + (f"等{task.subjects_count}位群友" if task.subjects_count > len(names) else "")
    return (task.script or "").replace("{group}", group_name or "本群").replace("{names}", shown or "各位群友")


def guide_group_tasks(*, guide: Guide, today: dt.date, limit: int = TODAY_ROWS) -> dict:
    """The guide's open group tasks, in groups the guide owns now, most urgent first; how many are open and done
    today; and whether the guide owns a live group at all (no section otherwise). Three or four queries."""
    mine = GroupTask.objects.filter(guide_id=guide.pk, group__owner_id=guide.pk, group__status="normal")
    tasks = list(mine.filter(state=GroupTaskState.OPEN).select_related("group", "coupon_template")
                 .order_by("due_on", "occurs_on", "id")[:limit])
    for task in tasks:
        task.due_today = task.due_on <= today
        task.filled_script = fill_script(task, task.group.name)
        task.subject_names = [s.get("name") or s.get("userid") for s in (task.subjects or [])[:NAMES_SHOWN]]
    from guides.brand.models import CustomerGroup, CustomerGroupStatus

    return {
        "owns_groups": bool(tasks) or CustomerGroup.objects.filter(owner_id=guide.pk,
                                                                  status=CustomerGroupStatus.NORMAL).exists(),
        "tasks": tasks,
        "open": mine.filter(state=GroupTaskState.OPEN).count(),
        "done_today": GroupTask.objects.filter(guide_id=guide.pk, state=GroupTaskState.DONE,
                                               completed_at__date=today).count(),
    }


@dataclass(frozen=True)
class GroupActivity:
    joined: int = 0
    left: int = 0
    active: int = 0
    tasks_open: int = 0
    tasks_done: int = 0


_ACTIVITY_SQL = """
WITH ids AS (SELECT unnest(%(ids)s::bigint[]) AS id),
people AS (
    SELECT gm.group_id,
           count(*) FILTER (WHERE gm.join_time >= %(since)s) AS joined,
           count(*) FILTER (WHERE gm.left_at >= %(since)s) AS left_,
           count(*) FILTER (WHERE gm.left_at IS NULL AND (
               gm.join_time >= %(since)s
               OR (gm.member_id IS NOT NULL AND (
                   EXISTS (SELECT 1 FROM members_pointsentry p
                            WHERE p.member_id = gm.member_id AND p.kind = 'earn' AND p.brand_id = %(brand_id)s
                              AND p.created_at >= %(since)s)
                   OR EXISTS (SELECT 1 FROM brandmembers_brandcoupon bc
                               WHERE bc.member_id = gm.member_id AND bc.redeemed_at >= %(since)s)
                   OR EXISTS (SELECT 1 FROM members_coupon c
                                JOIN guides_guide gd ON gd.id = c.issued_by_guide_id AND gd.brand_id = %(brand_id)s
                               WHERE c.member_id = gm.member_id AND c.redeemed_at >= %(since)s))))) AS active
      FROM brandguides_customergroupmember gm
     WHERE gm.group_id = ANY(%(ids)s::bigint[]) AND gm.type = 'external'
     GROUP BY gm.group_id
),
tasks AS (
    SELECT t.group_id, count(*) FILTER (WHERE t.state = 'open') AS open_,
           count(*) FILTER (WHERE t.state = 'done' AND t.completed_at >= %(done_since)s) AS done_
      FROM communitybrand_grouptask t
     WHERE t.group_id = ANY(%(ids)s::bigint[])
     GROUP BY t.group_id
)
SELECT ids.id, COALESCE(p.joined, 0), COALESCE(p.left_, 0), COALESCE(p.active, 0), COALESCE(t.open_, 0),
       COALESCE(t.done_, 0)
  FROM ids LEFT JOIN people p ON p.group_id = ids.id LEFT JOIN tasks t ON t.group_id = ids.id
"""


def groups_activity(*, group_ids: list[int], brand: Brand, now: dt.datetime | None = None) -> dict[int, GroupActivity]:
    """{group id: joined / left / active in the last 7 days, open tasks, tasks done in the last 30 days} for the
    brand's groups on one page. One statement, whatever the number of groups."""
    if not group_ids:
        return {}
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVITY_SQL, {"ids": list(group_ids), "brand_id": brand.pk,
                                       "since": now - dt.timedelta(days=ACTIVITY_DAYS),
                                       "done_since": now - dt.timedelta(days=DONE_DAYS)})
        return {row[0]: GroupActivity(*row[1:]) for row in cursor.fetchall()}


def interest_tags() -> list[InterestTag]:
    return list(InterestTag.objects.filter(is_active=True).order_by("position", "code"))


def tag_names() -> dict[str, str]:
    """{code: name} of every interest tag (switched-off ones too: groups may still carry them)."""
    return dict(InterestTag.objects.values_list("code", "name"))


def brand_group_nodes(*, brand: Brand) -> list:
    """The HQ group nodes that reach this brand, each with ``is_off`` (switched off here), store and tag names."""
    from .services import nodes_for_brand

    nodes = list(nodes_for_brand(brand=brand).select_related("coupon_template").prefetch_related("stores"))
    off = set(GroupNodeSwitchOff.objects.values_list("node_id", flat=True))
    names = tag_names()
    for node in nodes:
        node.is_off = node.optional and node.pk in off
        node.store_names = [s.name for s in node.stores.all()]
        node.tag_names = [names.get(code, code) for code in node.interest_tags]
    return nodes


def group_tasks_recent(*, group_id: int, limit: int = 30) -> list[GroupTask]:
    """A group's latest tasks, newest first, with the guide who has them (the brand's managers)."""
    return list(GroupTask.objects.filter(group_id=group_id).select_related("guide").order_by("-occurs_on", "-id")
                [:limit])


def groups_annotate(*, groups: list, brand: Brand) -> None:
    """Put ``activity`` and ``tag_labels`` on each group of a page of the brand's groups (two queries)."""
    activity = groups_activity(group_ids=[g.pk for g in groups], brand=brand)
    names = tag_names()
    for group in groups:
        group.activity = activity.get(group.pk) or GroupActivity()
        group.tag_labels = [names.get(code, code) for code in group.interest_tags]
