"""Writes for group tasks (群任务): the brand's nightly generation, completion (the owner's tap, or evidence),
rewards credited once, and the brand managers' settings (group tags, switching optional HQ nodes off).

``group_tasks_generate(brand=..., day=...)`` runs in the brand's schema and, in one transaction:

1. issues the tasks of every HQ group node that applies to the brand's live groups, for every occurrence whose
   due window is still open on ``day`` (so a missed night is caught up, issued ``late``), to the group's owner,
   in two INSERT ... SELECT ... ON CONFLICT DO NOTHING statements on the once-only key (group, node, period):
   the calendar nodes (daily, weekly, N days after creation) and the 100-days milestone (members whose join day
   + N falls in the window, one task per group and day);
2. hands open tasks to the group's current owner (群主 changed: change_owner, inheritance);
3. completes open tasks whose evidence exists: a coupon drop whose mall coupon this owner issued to a member of
   the group within the task's window; a milestone whose members' "N days in a group" customer tasks (the
   ``group_100_days`` trigger of tasks.triggers, ref ``trigger:group_100_days``, period = the chat id) were all
   done, i.e. the milestone was acknowledged one to one;
4. cancels the open tasks of dismissed groups, expires open tasks past their due date;
5. credits the rewards of done tasks once (``incentives.services.reward_credit``, source ``group_task``).

A re-run for the same day creates nothing and credits nothing twice. Lottery, daily game and custom tasks have no
evidence the platform can see: the owner confirms them with one tap (and an optional note).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from guides.models import Guide
from scrm.errors import AppError, Conflict, NotFound
from tenants.models import Brand, Store

log = logging.getLogger(__name__)

REWARD_SOURCE = "group_task"
SUBJECTS_SHOWN = 50
MILESTONE_TRIGGER_REF = "trigger:group_100_days"

# The HQ nodes that apply to this brand on ``day`` (not switched off by it, when optional), with their stores.
_NODES = """
    SELECT n.id, n.kind, n.title, n.guide_notes, n.script, n.coupon_template_id, n.schedule, n.weekday,
           n.offset_days, n.due_window_days, n.interest_tags, n.starts_on, n.ends_on, n.reward_coins, n.reward_exp,
           ARRAY(SELECT s.store_id FROM community_groupnode_stores s WHERE s.groupnode_id = n.id) AS store_ids,
           GREATEST(%(day)s::date - n.due_window_days + 1, n.starts_on) AS first_day,
           LEAST(%(day)s::date, COALESCE(n.ends_on, %(day)s::date)) AS last_day
      FROM community_groupnode n
     WHERE n.is_active AND n.starts_on <= %(day)s
       AND (n.ends_on IS NULL OR n.ends_on >= %(day)s::date - n.due_window_days + 1)
       AND (NOT EXISTS (SELECT 1 FROM community_groupnode_brands b WHERE b.groupnode_id = n.id)
            OR EXISTS (SELECT 1 FROM community_groupnode_brands b
                        WHERE b.groupnode_id = n.id AND b.brand_id = %(brand_id)s))
       AND NOT (n.optional AND EXISTS (SELECT 1 FROM communitybrand_groupnodeswitchoff o WHERE o.node_id = n.id))
"""

# Live groups whose owner is an active guide; ``born`` is the Shanghai date the group was created.
_GROUPS = """
    SELECT g.id, g.owner_id, g.store_id, g.interest_tags,
           (COALESCE(g.created_at, g.synced_at, now()) AT TIME ZONE %(tz)s)::date AS born
      FROM brandguides_customergroup g
      JOIN guides_guide o ON o.id = g.owner_id AND o.status = 'active'
     WHERE g.status = 'normal'
"""

# The group's tags decide which nodes apply: its store, and at least one shared interest tag.
_MATCH = """(cardinality(n.store_ids) = 0 OR g.store_id = ANY(n.store_ids))
            AND (cardinality(n.interest_tags) = 0 OR g.interest_tags && n.interest_tags)"""

_TASK_COLUMNS = """group_id, node_id, period, guide_id, kind, title, guide_notes, script, coupon_template_id, subjects,
    subjects_count, occurs_on, issued_on, due_on, state, late, completed_at, completed_by, evidence, note,
    reward_coins, reward_exp, reward_credited_at, closed_at, created_at"""

# Occurrence days of the calendar nodes inside [first_day, last_day] and not before the group existed.
_CALENDAR_INSERT = f"""
WITH nodes AS ({_NODES}), groups AS ({_GROUPS}),
occurrences AS (
    SELECT g.id AS group_id, g.owner_id, n.id AS node_id, d::date AS occurs_on
      FROM groups g
      JOIN nodes n ON n.schedule IN ('daily', 'weekly') AND {_MATCH}
     CROSS JOIN LATERAL generate_series(GREATEST(n.first_day, g.born)::timestamp, n.last_day::timestamp, interval '1 day') AS d
     WHERE n.schedule = 'daily' OR EXTRACT(ISODOW FROM d) = n.weekday
    UNION ALL
    SELECT g.id, g.owner_id, n.id, g.born + n.offset_days
      FROM groups g
      JOIN nodes n ON n.schedule = 'after_created' AND {_MATCH}
     WHERE g.born + n.offset_days BETWEEN n.first_day AND n.last_day
)
INSERT INTO communitybrand_grouptask ({_TASK_COLUMNS})
SELECT o.group_id, n.id, to_char(o.occurs_on, 'YYYY-MM-DD'), o.owner_id, n.kind, n.title, n.guide_notes, n.script,
       n.coupon_template_id, '[]'::jsonb, 0, o.occurs_on, %(day)s, o.occurs_on + n.due_window_days - 1, 'open',
       o.occurs_on < %(day)s, NULL, '', '{{}}'::jsonb, '', n.reward_coins, n.reward_exp, NULL, NULL, now()
  FROM occurrences o JOIN nodes n ON n.id = o.node_id
 ORDER BY o.group_id, n.id, o.occurs_on
ON CONFLICT (group_id, node_id, period) DO NOTHING
"""

# Members still in the group whose join day + N falls in the node's window: one task per group and day.
_MILESTONE_INSERT = f"""
WITH nodes AS ({_NODES}), groups AS ({_GROUPS}),
hits AS (
    SELECT gm.group_id, n.id AS node_id, (gm.join_time AT TIME ZONE %(tz)s)::date + n.offset_days AS occurs_on,
           count(*) AS how_many,
           (array_agg(jsonb_build_object('userid', gm.userid, 'name', gm.name, 'member_id', gm.member_id)
                      ORDER BY gm.join_time, gm.id))[1:{SUBJECTS_SHOWN}] AS subjects
      FROM nodes n
      JOIN brandguides_customergroupmember gm
        ON n.schedule = 'member_days' AND gm.type = 'external' AND gm.left_at IS NULL
       AND gm.join_time >= ((n.first_day - n.offset_days)::timestamp AT TIME ZONE %(tz)s)
       AND gm.join_time < ((n.last_day + 1 - n.offset_days)::timestamp AT TIME ZONE %(tz)s)
     GROUP BY gm.group_id, n.id, 3
)
INSERT INTO communitybrand_grouptask ({_TASK_COLUMNS})
SELECT h.group_id, n.id, to_char(h.occurs_on, 'YYYY-MM-DD'), g.owner_id, n.kind, n.title, n.guide_notes, n.script,
       NULL, to_jsonb(h.subjects), h.how_many, h.occurs_on, %(day)s, h.occurs_on + n.due_window_days - 1, 'open',
       h.occurs_on < %(day)s, NULL, '', '{{}}'::jsonb, '', n.reward_coins, n.reward_exp, NULL, NULL, now()
  FROM hits h
  JOIN groups g ON g.id = h.group_id
  JOIN nodes n ON n.id = h.node_id AND {_MATCH}
 WHERE h.occurs_on >= g.born
 ORDER BY h.group_id, n.id, h.occurs_on
ON CONFLICT (group_id, node_id, period) DO NOTHING
"""

# The task follows the group: a new owner (change_owner, 离职继承 of the group) takes the open tasks over.
_FOLLOW_OWNER = """
UPDATE communitybrand_grouptask t SET guide_id = g.owner_id
  FROM brandguides_customergroup g
 WHERE g.id = t.group_id AND t.state = 'open' AND g.status = 'normal' AND g.owner_id IS NOT NULL
   AND t.guide_id <> g.owner_id
"""

_DONE = "state = 'done', completed_at = now()"

EVIDENCE = {
    # the owner issued the drop's mall coupon to someone in the group, within the task's window
    "coupon_issued": f"""
        UPDATE communitybrand_grouptask t SET {_DONE}, completed_by = 'auto:coupon_issued',
               evidence = jsonb_build_object('coupons', e.how_many, 'first_coupon', e.first_code,
                                             'first_issued_at', e.first_at)
          FROM (SELECT t2.id, count(DISTINCT c.id) AS how_many, min(c.issued_at) AS first_at,
                       (array_agg(c.code ORDER BY c.issued_at, c.id))[1] AS first_code
                  FROM communitybrand_grouptask t2
                  JOIN brandguides_customergroupmember gm
                    ON gm.group_id = t2.group_id AND gm.type = 'external' AND gm.member_id IS NOT NULL
                  JOIN members_coupon c
                    ON c.member_id = gm.member_id AND c.template_id = t2.coupon_template_id
                   AND c.issued_by_guide_id = t2.guide_id
                   AND c.issued_at >= (t2.occurs_on::timestamp AT TIME ZONE %(tz)s)
                   AND c.issued_at < ((t2.due_on + 1)::timestamp AT TIME ZONE %(tz)s)
                 WHERE t2.state = 'open' AND t2.kind = 'coupon_drop' AND t2.coupon_template_id IS NOT NULL
                 GROUP BY t2.id) e
         WHERE t.id = e.id AND t.state = 'open'
    """,
    # every member named (and known to the mall) had their one-to-one "N days in the group" task done
    "milestone_acknowledged": f"""
        UPDATE communitybrand_grouptask t SET {_DONE}, completed_by = 'auto:milestone_acknowledged',
               evidence = jsonb_build_object('guide_task_ids', to_jsonb(e.ids))
          FROM (SELECT t2.id, count(*) AS wanted, count(gt.id) AS acknowledged,
                       array_agg(gt.id ORDER BY gt.id) FILTER (WHERE gt.id IS NOT NULL) AS ids
                  FROM communitybrand_grouptask t2
                  JOIN brandguides_customergroup g ON g.id = t2.group_id
                 CROSS JOIN LATERAL jsonb_array_elements(t2.subjects) s
                  LEFT JOIN tasks_guidetask gt
                    ON gt.source = 'trigger' AND gt.ref = %(milestone_ref)s AND gt.period = g.chat_id
                   AND gt.member_id = (s ->> 'member_id')::bigint AND gt.state = 'done'
                 WHERE t2.state = 'open' AND t2.kind = 'milestone_100_days' AND s ->> 'member_id' IS NOT NULL
                 GROUP BY t2.id) e
         WHERE t.id = e.id AND t.state = 'open' AND e.acknowledged = e.wanted
    """,
}

_CANCEL_DISMISSED = """
UPDATE communitybrand_grouptask t SET state = 'cancelled', closed_at = now()
  FROM brandguides_customergroup g
 WHERE g.id = t.group_id AND t.state = 'open' AND g.status = 'dismissed'
"""

_EXPIRE_OVERDUE = """
UPDATE communitybrand_grouptask SET state = 'expired', closed_at = now()
 WHERE state = 'open' AND due_on < %(day)s
"""


@dataclass(frozen=True)
class GroupRunResult:
    schema: str
    day: dt.date
    created: int
    completed: int
    cancelled: int
    expired: int
    credited: int


def _brand(brand: Brand | str) -> Brand:
    return brand if isinstance(brand, Brand) else Brand.objects.get(schema_name=brand)


def group_tasks_generate(*, brand: Brand | str, day: dt.date | None = None) -> GroupRunResult:
    """Issue, hand over, complete from evidence, cancel and expire the brand's group tasks for ``day`` (default:
    today in Shanghai), then credit rewards. Idempotent; concurrent runs for one brand wait for each other."""
    brand = _brand(brand)
    day = day or timezone.localdate()
    params = {"day": day, "tz": settings.TIME_ZONE, "brand_id": brand.pk, "milestone_ref": MILESTONE_TRIGGER_REF}
    with schema_context(brand.schema_name), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('tasks.community'), hashtext(%s))", [brand.schema_name])
        cursor.execute("SET LOCAL jit = off")  # short statements; see tasks.engine on JIT and big tables
        cursor.execute(_CALENDAR_INSERT, params)
        created = cursor.rowcount
        cursor.execute(_MILESTONE_INSERT, params)
        created += cursor.rowcount
        cursor.execute(_FOLLOW_OWNER)
        completed = 0
        for sql in EVIDENCE.values():
            cursor.execute(sql, params)
            completed += cursor.rowcount
        cursor.execute(_CANCEL_DISMISSED)
        cancelled = cursor.rowcount
        cursor.execute(_EXPIRE_OVERDUE, params)
        expired = cursor.rowcount
        credited = rewards_credit_due(schema=brand.schema_name)
    result = GroupRunResult(brand.schema_name, day, created, completed, cancelled, expired, credited)
    log.info("community.generated", extra={"tenant": brand.schema_name, "day": day.isoformat(),
                                           "group_tasks_created": created, "group_tasks_completed": completed,
                                           "group_tasks_cancelled": cancelled, "group_tasks_expired": expired,
                                           "group_tasks_credited": credited})
    return result


def rewards_credit_due(*, schema: str, task_ids: list[int] | None = None) -> int:
    """Credit the coins/experience of done group tasks not credited yet, each exactly once (ledger source
    "group_task"). Returns how many."""
    from tasks.services import done_rewards_credit

    from .brand.models import GroupTask, GroupTaskState

    return done_rewards_credit(model=GroupTask, done=GroupTaskState.DONE, source=REWARD_SOURCE, schema=schema,
                               task_ids=task_ids)


def group_task_complete(*, guide: Guide, task_id: int, note: str = "", actor: str = ""):
    """The group owner confirms a group task done (optional note); its reward is credited once.

    Only a task of a group the guide owns now: anyone else's is "not found". Completing a done task again
    changes nothing; an expired or cancelled one is refused."""
    from tenants.services import audit

    from .brand.models import GroupTask, GroupTaskState

    note = (note or "").strip()
    if len(note) > 1000:
        raise AppError("备注过长 Note too long", code="invalid", fields={"note": ["≤ 1000 characters. 最多1000字。"]})
    schema = guide.brand.schema_name
    with schema_context(schema), transaction.atomic():
        task = (GroupTask.objects.select_for_update(of=("self",))
                .filter(pk=task_id, guide_id=guide.pk, group__owner_id=guide.pk).first())
        if task is None:
            raise NotFound("群任务不存在 Group task not found", code="group_task_not_found")
        if task.state == GroupTaskState.DONE:
            return task
        if task.state != GroupTaskState.OPEN:
            raise Conflict(f"群任务{task.get_state_display()} The group task is {task.state}", code="task_closed")
        task.state, task.completed_at, task.completed_by, task.note = (
            GroupTaskState.DONE, timezone.now(), "guide", note)
        task.save(update_fields=["state", "completed_at", "completed_by", "note"])
        audit(action="group_task.completed", actor=actor or f"guide:{guide.pk}", brand=guide.brand,
              guide_id=guide.pk, group_task_id=task.pk, group_id=task.group_id, node_id=task.node_id)
        rewards_credit_due(schema=schema, task_ids=[task.pk])
        task.refresh_from_db()
    return task


# --------------------------------------------------------------------------- brand settings

def brand_stores(*, brand: Brand):
    """The stores a brand's group may be tagged with: where the brand has a counter."""
    return Store.objects.filter(counters__brand=brand).distinct().order_by("code")


def group_tags_set(*, brand: Brand, group_id: int, store_id: int | None, interest_tags: list[str],
                   actor: str = "") -> object:
    """Tag one of the brand's groups with a store (one of the brand's) and interest tags (the mall's list).

    The brand is implicit: the group lives in the brand's schema. The tags decide which HQ group nodes apply
    from the next generation on; tasks already issued stay."""
    from guides.brand.models import CustomerGroup
    from tenants.services import audit

    from .models import InterestTag

    codes = list(dict.fromkeys(str(c).strip() for c in interest_tags or [] if str(c).strip()))
    fields = {}
    if store_id is not None and not brand_stores(brand=brand).filter(pk=store_id).exists():
        fields["store"] = ["不是本品牌有专柜的门店 Not a store where the brand has a counter"]
    known = set(InterestTag.objects.filter(code__in=codes, is_active=True).values_list("code", flat=True))
    unknown = [c for c in codes if c not in known]
    if unknown:
        fields["interest_tags"] = [f"未知标签 Unknown tags: {', '.join(unknown)[:200]}"]
    if fields:
        raise AppError("群标签有误 Invalid group tags", code="invalid", fields=fields)
    with schema_context(brand.schema_name), transaction.atomic():
        group = CustomerGroup.objects.select_for_update().filter(pk=group_id).first()
        if group is None:
            raise NotFound("客户群不存在 Group not found", code="group_not_found")
        CustomerGroup.objects.filter(pk=group.pk).update(store_id=store_id, interest_tags=codes)
        audit(action="group.tagged", actor=actor or "system", brand=brand, group_id=group.pk, store_id=store_id,
              interest_tags=codes)
        group.store_id, group.interest_tags = store_id, codes
    return group


def nodes_for_brand(*, brand: Brand):
    """The active HQ group nodes that reach this brand (no brand list, or one naming it)."""
    from .models import GroupNode

    return (GroupNode.objects.filter(is_active=True).filter(Q(brands__isnull=True) | Q(brands=brand))
            .distinct().order_by("position", "id"))


def group_node_switch(*, brand: Brand, node_id: int, off: bool, actor: str = "") -> None:
    """Switch an optional HQ group node off (or back on) for the brand. Mandatory nodes stay on; tasks already
    issued stay as they are."""
    from .brand.models import GroupNodeSwitchOff

    node = nodes_for_brand(brand=brand).filter(pk=node_id).first()
    if node is None:
        raise NotFound("总部群任务不存在 HQ group node not found", code="node_not_found")
    if off and not node.optional:
        raise AppError("该群任务为必做，不能关闭 This HQ group node is mandatory", code="node_mandatory",
                       fields={"node": ["不可关闭 Cannot be switched off"]})
    with schema_context(brand.schema_name):
        if off:
            GroupNodeSwitchOff.objects.get_or_create(node_id=node.pk, defaults={"switched_by": actor[:120]})
        else:
            GroupNodeSwitchOff.objects.filter(node_id=node.pk).delete()
