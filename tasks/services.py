"""Writes for guide tasks: handing open tasks to another guide, completing tasks, brand program settings."""

from __future__ import annotations

from django.db import connection, transaction
from django_tenants.utils import schema_context

from guides.models import Guide
from scrm.errors import AppError


def _brand_schema_of(*guide_ids: int) -> str:
    """The one brand schema both guides belong to (tasks never cross brands)."""
    schemas = set(Guide.objects.filter(pk__in=guide_ids).values_list("brand__schema_name", flat=True))
    found = Guide.objects.filter(pk__in=guide_ids).count()
    if found != len(set(guide_ids)):
        raise AppError("导购不存在 Guide not found", code="guide_not_found")
    if len(schemas) != 1:
        raise AppError("两位导购不属于同一品牌 Guides belong to different brands", code="cross_brand")
    return schemas.pop()


def tasks_reassign(*, member_ids: list[int], from_guide_id: int, to_guide_id: int) -> int:
    """Move the OPEN tasks of ``member_ids`` from one guide to another (离职继承 / customer transfer).

    One UPDATE; due dates, lifecycle day, content and reward stay as issued. The task points at the
    successor's relationship with the member when there is one. Done, expired and cancelled tasks stay
    with the guide who had them (their history). Returns the number of tasks moved; safe to run twice.
    """
    if not member_ids or from_guide_id == to_guide_id:
        return 0
    schema = _brand_schema_of(from_guide_id, to_guide_id)
    with schema_context(schema), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE tasks_guidetask t
               SET guide_id = %(to)s,
                   relationship_id = COALESCE(
                       (SELECT r.id FROM brandguides_relationship r
                         WHERE r.guide_id = %(to)s AND r.member_id = t.member_id),
                       t.relationship_id)
             WHERE t.state = 'open' AND t.guide_id = %(from)s AND t.member_id = ANY(%(members)s)
            """,
            {"to": to_guide_id, "from": from_guide_id, "members": list(member_ids)},
        )
        return cursor.rowcount


REWARD_SOURCE = "guide_task"


def rewards_credit_due(*, schema: str, task_ids: list[int] | None = None) -> int:
    """Credit the coins/experience of done tasks not credited yet (each exactly once). Returns how many."""
    from .models import GuideTask, TaskState

    return done_rewards_credit(model=GuideTask, done=TaskState.DONE, source=REWARD_SOURCE, schema=schema,
                               task_ids=task_ids)


def done_rewards_credit(*, model, done: str, source: str, schema: str, task_ids: list[int] | None = None) -> int:
    """Credit the rewards of ``model``'s done rows (guide tasks, group tasks) not credited yet. Returns how many.

    Once-only twice over: the row is locked (SKIP LOCKED: a concurrent run credits those) and stamped
    ``reward_credited_at`` in the same transaction, and the incentives ledger refuses a second entry for the same
    (guide, source, "<schema>:<id>").
    """
    from django.db.models import Q
    from django.utils import timezone

    from incentives.services import reward_credit

    with schema_context(schema), transaction.atomic():
        due = (model.objects.select_for_update(skip_locked=True)
               .filter(state=done, reward_credited_at__isnull=True)
               .filter(Q(reward_coins__gt=0) | Q(reward_exp__gt=0)).order_by("pk")
               .values("pk", "guide_id", "reward_coins", "reward_exp", "title"))
        if task_ids is not None:
            due = due.filter(pk__in=task_ids)
        credited = []
        for task in due:
            reward_credit(guide_id=task["guide_id"], coins=task["reward_coins"], exp=task["reward_exp"],
                          source=source, source_id=f"{schema}:{task['pk']}", note=task["title"])
            credited.append(task["pk"])
        if credited:
            model.objects.filter(pk__in=credited).update(reward_credited_at=timezone.now())
    return len(credited)


def task_complete(*, guide: Guide, task_id: int, note: str = "", actor: str = "") -> object:
    """The guide confirms a task done (with an optional note); its reward is credited once.

    Only the guide's own task: anyone else's is "not found". Completing a done task again changes nothing.
    """
    from django.utils import timezone

    from scrm.errors import Conflict, NotFound
    from tenants.services import audit

    from .models import GuideTask, TaskState

    note = (note or "").strip()
    if len(note) > 1000:
        raise AppError("备注过长 Note too long", code="invalid", fields={"note": ["≤ 1000 characters. 最多1000字。"]})
    schema = guide.brand.schema_name
    with schema_context(schema), transaction.atomic():
        task = GuideTask.objects.select_for_update().filter(pk=task_id, guide_id=guide.pk).first()
        if task is None:
            raise NotFound("任务不存在 Task not found", code="task_not_found")
        if task.state == TaskState.DONE:
            return task
        if task.state != TaskState.OPEN:
            raise Conflict(f"任务已{task.get_state_display()} The task is {task.state}", code="task_closed")
        task.state, task.completed_at, task.completed_by, task.note = (
            TaskState.DONE, timezone.now(), "guide", note)
        task.save(update_fields=["state", "completed_at", "completed_by", "note"])
        audit(action="task.completed", actor=actor or f"guide:{guide.pk}", brand=guide.brand,
              member_id=task.member_id, guide_id=guide.pk, task_id=task.pk, ref=task.ref)
        rewards_credit_due(schema=schema, task_ids=[task.pk])
        task.refresh_from_db()
    return task


# --------------------------------------------------------------------------- brand program settings

def hq_node_switch(*, key: str, off: bool, actor: str = "") -> None:
    """Switch an optional HQ node off (or back on) for the current brand. Mandatory nodes stay on."""
    from tasks.mall.models import ProgramNode

    from .models import NodeSwitchOff

    node = ProgramNode.objects.filter(key=key, version__status="published", version__program__is_default=True).first()
    if node is None:
        raise AppError("总部节点不存在 HQ node not found", code="node_not_found", status=404, fields={"key": [key]})
    if off and not node.optional:
        raise AppError("该总部节点为必做，不能关闭 This HQ node is mandatory", code="node_mandatory",
                       fields={"key": ["不可关闭 Cannot be switched off"]})
    if off:
        NodeSwitchOff.objects.get_or_create(node_key=key, defaults={"switched_by": actor[:120]})
    else:
        NodeSwitchOff.objects.filter(node_key=key).delete()


def _brand_node_check(*, day_offset, title, script, task_type, due_window_days, reward_coins, reward_exp) -> None:
    from tasks.mall.models import TaskType

    fields = {}
    if not isinstance(day_offset, int) or not 0 <= day_offset <= 365:
        fields["day_offset"] = ["0-365"]
    if not (title or "").strip() or len(title) > 100:
        fields["title"] = ["1-100 个字符 characters"]
    if not (script or "").strip() or len(script) > 2000:
        fields["script"] = ["1-2000 个字符 characters"]
    if task_type not in TaskType.values:
        fields["task_type"] = ["未知类型 Unknown task type"]
    if not isinstance(due_window_days, int) or not 1 <= due_window_days <= 60:
        fields["due_window_days"] = ["1-60"]
    for name, value in (("reward_coins", reward_coins), ("reward_exp", reward_exp)):
        if not isinstance(value, int) or not 0 <= value <= 10000:
            fields[name] = ["0-10000"]
    if fields:
        raise AppError("节点设置有误 Invalid node", code="invalid", fields=fields)


def brand_node_create(*, day_offset: int, title: str, script: str, task_type: str = "care",
                      due_window_days: int = 3, reward_coins: int = 0, reward_exp: int = 0, actor: str = ""):
    """Add a brand lifecycle node (any day offset); it applies from the next engine run on."""
    from .models import BrandNode

    _brand_node_check(day_offset=day_offset, title=title, script=script, task_type=task_type,
                      due_window_days=due_window_days, reward_coins=reward_coins, reward_exp=reward_exp)
    return BrandNode.objects.create(day_offset=day_offset, title=title.strip(), script=script.strip(),
                                    task_type=task_type, due_window_days=due_window_days, reward_coins=reward_coins,
                                    reward_exp=reward_exp, created_by=actor[:120])


def brand_node_update(*, pk: int, day_offset: int, title: str, script: str, task_type: str = "care",
                      due_window_days: int = 3, reward_coins: int = 0, reward_exp: int = 0):
    """Change one of the brand's active nodes from the next engine run on. Tasks already issued keep their own
    copy of title, script and reward; a customer who had this node for their day 0 does not get it again when the
    day moves (the task's once-only key is the node and the day 0, not the day offset)."""
    from scrm.errors import NotFound

    from .models import BrandNode

    _brand_node_check(day_offset=day_offset, title=title, script=script, task_type=task_type,
                      due_window_days=due_window_days, reward_coins=reward_coins, reward_exp=reward_exp)
    with transaction.atomic():
        node = BrandNode.objects.select_for_update().filter(pk=pk, is_active=True).first()
        if node is None:
            raise NotFound("品牌节点不存在或已停用 Brand node not found or switched off", code="node_not_found")
        node.day_offset, node.title, node.script, node.task_type = day_offset, title.strip(), script.strip(), task_type
        node.due_window_days, node.reward_coins, node.reward_exp = due_window_days, reward_coins, reward_exp
        node.save(update_fields=["day_offset", "title", "script", "task_type", "due_window_days", "reward_coins",
                                 "reward_exp"])
    return node


def brand_node_deactivate(*, pk: int) -> None:
    """Stop issuing a brand node; tasks already issued stay as they are."""
    from scrm.errors import NotFound

    from .models import BrandNode

    if not BrandNode.objects.filter(pk=pk).update(is_active=False):
        raise NotFound("品牌节点不存在 Brand node not found", code="node_not_found")


def trigger_update(*, kind: str, is_enabled: bool, offset: int, title: str) -> None:
    """Switch a trigger on/off and set its N (days, or hours for viewed-not-used) and title."""
    from scrm.errors import NotFound

    from .models import TriggerConfig

    fields = {}
    if not isinstance(offset, int) or not 0 <= offset <= 1000:
        fields["offset"] = ["0-1000"]
    if not (title or "").strip() or len(title) > 100:
        fields["title"] = ["1-100 个字符 characters"]
    if fields:
        raise AppError("触发器设置有误 Invalid trigger setting", code="invalid", fields=fields)
    if not TriggerConfig.objects.filter(kind=kind).update(is_enabled=is_enabled, offset=offset, title=title.strip()):
        raise NotFound("触发器不存在 Trigger not found", code="trigger_not_found")
