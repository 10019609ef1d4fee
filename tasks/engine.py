"""The guide task engine: a brand's tasks for one day, in a few set-based SQL statements.

``generate(brand=..., day=...)`` runs inside the brand's schema and, in one transaction:

1. issues lifecycle tasks (HQ program nodes the brand has not switched off, plus the brand's own nodes)
   with INSERT ... SELECT ... ON CONFLICT DO NOTHING on the task's once-only key, then the event-trigger
   tasks the same way (tasks.triggers);
2. completes open tasks whose evidence exists (tasks.evidence) and credits their rewards once;
3. cancels open tasks whose guide no longer serves the customer (the relationship ended);
4. expires open tasks past their due date;
and records an EngineRun, the watermark of the next run.

Which (relationship, node) pairs it looks at, so that the cost follows the day's work, not the number
of members:
- nodes whose day (day 0 + offset) falls after the last finished run's day and on or before ``day``:
  normally exactly ``day``; after missed nights every missed day (catch-up), and a node whose day has
  passed is issued ``late`` as long as its due window is still open;
- relationships added (new rows, or re-added: a new ``added_at``) since the last run started, with every
  node still inside its window (so a customer added after the night's run still gets the day-0 task).
A re-run for the same day therefore looks at almost nothing and creates nothing.

A large brand can be generated in several jobs (``split_plan`` / ``generate_part``): the lifecycle and trigger
tasks per member id range, all with the watermark taken when the run was planned, and the once-per-run steps
(evidence, cancel, expire, rewards, the finished EngineRun) by the part that finishes last.

Lifecycle day 0 is the relationship's ``added_at`` as a date in Asia/Shanghai. Handovers keep the original
``added_at``, so the successor continues the same lifecycle and the once-only key (member, node, day 0)
never issues a node twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.models import Brand

from .evidence import tasks_complete_from_evidence
from .services import rewards_credit_due
from .triggers import triggers_generate

log = logging.getLogger(__name__)

# Relationships added this long before the previous run started are looked at again: a transaction that
# stamped added_at before the run started may have committed after the run took its snapshot.
SINCE_MARGIN = dt.timedelta(minutes=10)
# With no previous run, nodes up to this many days back are considered (longest sensible due window).
FIRST_RUN_LOOKBACK_DAYS = 30


@dataclass(frozen=True)
class RunResult:
    schema: str
    day: dt.date
    created: int
    completed: int
    cancelled: int
    expired: int


_LIFECYCLE_NODES = """
    SELECT 'hq:' || n.key AS ref, n.id AS hq_node_id, NULL::bigint AS brand_node_id, n.day_offset,
           n.due_window_days, n.task_type, n.title, n.script, n.coupon_template_id AS mall_coupon_id,
           NULL::bigint AS brand_coupon_id, n.reward_coins, n.reward_exp
      FROM tasks_mall_programnode n
      JOIN tasks_mall_programversion v ON v.id = n.version_id AND v.status = 'published'
      JOIN tasks_mall_program p ON p.id = v.program_id AND p.is_default
     WHERE NOT (n.optional AND EXISTS (SELECT 1 FROM tasks_nodeswitchoff s WHERE s.node_key = n.key))
    UNION ALL
    SELECT 'brand:' || b.id, NULL, b.id, b.day_offset, b.due_window_days, b.task_type, b.title, b.script,
           NULL, b.coupon_template_id, b.reward_coins, b.reward_exp
      FROM tasks_brandnode b
     WHERE b.is_active
"""

_TASK_COLUMNS = """
    source, ref, period, guide_id, member_id, relationship_id, hq_node_id, brand_node_id, trigger_kind,
    lifecycle_day, task_type, title, script, mall_coupon_template_id, brand_coupon_template_id, issued_on,
    due_on, state, late, completed_at, completed_by, evidence, note, reward_coins, reward_exp,
    reward_credited_at, closed_at, created_at
"""

# day0 is the Shanghai date of added_at; a node's day is day0 + offset; it is due day0 + offset + window - 1.
_LIFECYCLE_INSERT = f"""
WITH nodes AS ({_LIFECYCLE_NODES}),
candidates AS (
    SELECT r.id AS relationship_id, r.guide_id, r.member_id, r.added_at, n.*
      FROM nodes n
      JOIN brandguides_relationship r
        ON r.status = 'active'
       AND r.added_at >= ((%(after)s::date + 1 - n.day_offset)::timestamp AT TIME ZONE %(tz)s)
       AND r.added_at < ((%(day)s::date + 1 - n.day_offset)::timestamp AT TIME ZONE %(tz)s)
       AND r.member_id >= COALESCE(%(lo)s, 0) AND r.member_id < COALESCE(%(hi)s, 9223372036854775807)
    UNION
    SELECT r.id, r.guide_id, r.member_id, r.added_at, n.*
      FROM brandguides_relationship r
      CROSS JOIN nodes n
     WHERE r.status = 'active' AND (r.added_at >= %(since)s OR r.id > %(seen_id)s)
       AND r.member_id >= COALESCE(%(lo)s, 0) AND r.member_id < COALESCE(%(hi)s, 9223372036854775807)
),
placed AS (SELECT c.*, (c.added_at AT TIME ZONE %(tz)s)::date AS day0 FROM candidates c)
INSERT INTO tasks_guidetask ({_TASK_COLUMNS})
SELECT 'lifecycle', p.ref, to_char(p.day0, 'YYYY-MM-DD'), p.guide_id, p.member_id, p.relationship_id,
       p.hq_node_id, p.brand_node_id, '', p.day_offset, p.task_type, p.title, p.script, p.mall_coupon_id,
       p.brand_coupon_id, %(day)s, p.day0 + p.day_offset + p.due_window_days - 1, 'open',
       p.day0 + p.day_offset < %(day)s, NULL, '', '{{}}'::jsonb, '', p.reward_coins, p.reward_exp, NULL, NULL, now()
  FROM placed p
 WHERE p.day0 + p.day_offset <= %(day)s
   AND p.day0 + p.day_offset + p.due_window_days - 1 >= %(day)s
ORDER BY p.member_id, p.relationship_id
ON CONFLICT (source, member_id, ref, period) DO NOTHING
"""

_ADDS_SINCE = """
SELECT EXISTS (SELECT 1 FROM brandguides_relationship r
                WHERE r.status = 'active' AND (r.added_at >= %(since)s OR r.id > %(seen_id)s)
                  AND r.member_id >= COALESCE(%(lo)s, 0) AND r.member_id < COALESCE(%(hi)s, 9223372036854775807))
"""

# A task belongs to a guide who serves the customer; when that relationship ends the task is cancelled
# (a handover moves open tasks to the successor first, see tasks.services.tasks_reassign).
# Tasks this run issued are left out (id above the highest before it): each was just issued on an active
# relationship, and reading them all again cost as much as the night's whole insert.
_CANCEL_ENDED = """
UPDATE tasks_guidetask t SET state = 'cancelled', closed_at = now()
 WHERE t.state = 'open' AND t.id <= %(max_task_id)s
   AND NOT EXISTS (SELECT 1 FROM brandguides_relationship r
                    WHERE r.guide_id = t.guide_id AND r.member_id = t.member_id AND r.status = 'active')
"""

# A same-day re-run (every 10 minutes) looks only at the relationships ended since the last run (index of
# tasks 0008); the day's first run looks at every open task. (A relationship ended with a time before the last
# run, or a task handed to a guide who does not serve the customer, is cancelled by the next night's run.)
_CANCEL_ENDED_SINCE = """
UPDATE tasks_guidetask t SET state = 'cancelled', closed_at = now()
  FROM (SELECT DISTINCT e.guide_id, e.member_id FROM brandguides_relationship e
         WHERE e.status <> 'active' AND e.ended_at >= %(since)s) e
 WHERE t.state = 'open' AND t.id <= %(max_task_id)s AND t.guide_id = e.guide_id AND t.member_id = e.member_id
   AND NOT EXISTS (SELECT 1 FROM brandguides_relationship r
                    WHERE r.guide_id = t.guide_id AND r.member_id = t.member_id AND r.status = 'active')
"""

_EXPIRE_OVERDUE = """
UPDATE tasks_guidetask SET state = 'expired', closed_at = now()
 WHERE state = 'open' AND due_on < %(day)s
"""


def _schema_name(brand: Brand | str) -> str:
    return brand if isinstance(brand, str) else brand.schema_name


def today() -> dt.date:
    return timezone.localdate()  # TIME_ZONE is Asia/Shanghai


@dataclass(frozen=True)
class _Plan:
    """What one run looks at: the watermark of the last finished run and this run's own snapshot."""

    day: dt.date
    after: dt.date
    since: dt.datetime
    seen_id: int
    max_relationship_id: int
    started_at: dt.datetime
    max_task_id: int | None = None  # the highest task id before this run issued any (None: unknown)


_LOCK = "SELECT pg_advisory_xact_lock{mode}(hashtext('tasks.engine'), hashtext(%s))"


def _begin(cursor, schema: str, *, shared: bool = False) -> None:
    """A whole-brand run holds the brand's engine lock alone; the parts of a split run share it with each other."""
    cursor.execute(_LOCK.format(mode="_shared" if shared else ""), [schema])
    # No JIT: the planner's estimates grow with the tables (millions of members) and cross jit_above_cost,
    # and compiling a statement then took 0.5-3 s where running it takes milliseconds (bench/tasks_generate.py).
    cursor.execute("SET LOCAL jit = off")
    # The commit need not wait for its WAL to reach the disk: everything a run writes is derived again by the
    # next run (tasks on the once-only key, evidence, cancel, expire, and the watermark with them), so a
    # database crash that loses a just-committed run loses nothing the next run does not redo. A run that
    # credits rewards commits synchronously (_close): their leaderboards are updated in Redis after commit.
    cursor.execute("SET LOCAL synchronous_commit = off")


def _plan(cursor, day: dt.date) -> _Plan:
    from .models import EngineRun

    started_at = timezone.now()
    last = (EngineRun.objects.filter(finished_at__isnull=False, day__lte=day).order_by("-day", "-id")
            .values("day", "started_at", "max_relationship_id").first())
    cursor.execute("SELECT (SELECT COALESCE(MAX(id), 0) FROM brandguides_relationship), "
                   "(SELECT COALESCE(MAX(id), 0) FROM tasks_guidetask)")
    max_relationship_id, max_task_id = cursor.fetchone()
    return _Plan(day=day, after=last["day"] if last else day - dt.timedelta(days=FIRST_RUN_LOOKBACK_DAYS),
                 since=(last["started_at"] - SINCE_MARGIN) if last else started_at,
                 seen_id=last["max_relationship_id"] if last else max_relationship_id,
                 max_relationship_id=max_relationship_id, started_at=started_at, max_task_id=max_task_id)


def _issue(cursor, *, plan: _Plan, brand_id: int, lo: int | None = None, hi: int | None = None) -> int:
    """Lifecycle and trigger tasks of the members in [lo, hi) (None: unbounded). Returns how many were created."""
    params = {"day": plan.day, "after": plan.after, "since": plan.since, "seen_id": plan.seen_id,
              "tz": settings.TIME_ZONE, "lo": lo, "hi": hi}
    # After the day's run (the 10-minute re-runs) the lifecycle nodes left are those of the adds since, and so
    # are the birthday and dormant reminders (tasks.triggers): with no add since, those statements are skipped.
    same_day = plan.after >= plan.day
    adds = True
    if same_day:
        cursor.execute(_ADDS_SINCE, params)
        adds = cursor.fetchone()[0]
    created = 0
    if adds:
        cursor.execute(_LIFECYCLE_INSERT, params)
        created = cursor.rowcount
    created += triggers_generate(cursor=cursor, day=plan.day, tz=settings.TIME_ZONE, brand_id=brand_id, lo=lo, hi=hi,
                                 since=plan.since if same_day else None, seen_id=plan.seen_id, adds_since=adds)
    return created


def _close(cursor, *, schema: str, day: dt.date, max_task_id: int | None,
           ended_since: dt.datetime | None = None) -> tuple[int, int, int]:
    """The steps that look at the whole brand once per run: evidence, ended relationships (those ended since
    ``ended_since`` only, on a same-day re-run), overdue tasks, rewards. Returns (completed, cancelled, expired)."""
    completed = tasks_complete_from_evidence(cursor=cursor, tz=settings.TIME_ZONE)
    cancel = {"max_task_id": max_task_id if max_task_id is not None else 2**63 - 1, "since": ended_since}
    cursor.execute(_CANCEL_ENDED if ended_since is None else _CANCEL_ENDED_SINCE, cancel)
    cancelled = cursor.rowcount
    cursor.execute(_EXPIRE_OVERDUE, {"day": day})
    expired = cursor.rowcount
    if rewards_credit_due(schema=schema):
        cursor.execute("SET LOCAL synchronous_commit = on")
    return completed, cancelled, expired


def _brand_id(schema: str) -> int:
    return Brand.objects.only("pk").get(schema_name=schema).pk


def _logged(result: RunResult) -> RunResult:
    # "created" is a LogRecord attribute: the counts carry a tasks_ prefix
    log.info("tasks.generated", extra={"tenant": result.schema, "day": result.day.isoformat(),
                                       "tasks_created": result.created, "tasks_cancelled": result.cancelled,
                                       "tasks_expired": result.expired, "tasks_completed": result.completed})
    return result


def generate(*, brand: Brand | str, day: dt.date | None = None) -> RunResult:
    """Issue, cancel and expire the brand's tasks for ``day`` (default: today in Shanghai). Idempotent."""
    from .models import EngineRun

    day = day or today()
    schema = _schema_name(brand)
    with schema_context(schema), transaction.atomic(), connection.cursor() as cursor:
        # One run per brand at a time; a second waits and then finds the work done.
        _begin(cursor, schema)
        plan = _plan(cursor, day)
        created = _issue(cursor, plan=plan, brand_id=_brand_id(schema))
        completed, cancelled, expired = _close(cursor, schema=schema, day=day, max_task_id=plan.max_task_id,
                                               ended_since=plan.since if plan.after >= day else None)
        EngineRun.objects.create(day=day, started_at=plan.started_at, max_relationship_id=plan.max_relationship_id,
                                 finished_at=timezone.now(), created=created,
                                 completed=completed, cancelled=cancelled, expired=expired)
    return _logged(RunResult(schema=schema, day=day, created=created, completed=completed, cancelled=cancelled,
                             expired=expired))


# --------------------------------------------------------------------------- a large brand in several jobs

def split_plan(*, brand: Brand | str, day: dt.date, parts: int) -> tuple[int, list[int]]:
    """Plan one run of a large brand as ``parts`` jobs over member id ranges. Returns (run id, part numbers).

    The run (an unfinished EngineRun) holds the watermark every part uses, taken now; each part issues the
    lifecycle and trigger tasks of its members (a member's tasks all fall in one part, so parts never race on
    the once-only key); the part that finishes last does what must happen once per run (evidence, ended
    relationships, overdue tasks, rewards) and finishes the run, in its own transaction. A part that runs twice
    (a redelivered job) finds itself finished and does nothing; a part that never runs leaves the run
    unfinished, and the next run starts from the previous finished one, catching up what the part missed.
    """
    from .models import EnginePart, EngineRun

    schema = _schema_name(brand)
    with schema_context(schema), transaction.atomic(), connection.cursor() as cursor:
        _begin(cursor, schema)
        plan = _plan(cursor, day)
        cursor.execute("SELECT min(member_id), max(member_id) FROM brandguides_relationship")
        low, high = cursor.fetchone()
        parts = max(1, min(parts, (high - low + 1) if low is not None else 1))
        width = -(-((high - low + 1) if low is not None else 1) // parts)
        # the first and last ranges are open: members added while the run is under way fall in a part too
        bounds = [None] + [low + width * n for n in range(1, parts)] + [None]
        run = EngineRun.objects.create(day=day, started_at=plan.started_at, after=plan.after, since=plan.since,
                                       seen_relationship_id=plan.seen_id,
                                       max_relationship_id=plan.max_relationship_id, parts=parts)
        EnginePart.objects.bulk_create([EnginePart(run=run, number=n, member_from=bounds[n], member_to=bounds[n + 1])
                                        for n in range(parts)])
    return run.pk, list(range(parts))


def generate_part(*, brand: Brand | str, run_id: int, number: int) -> RunResult | None:
    """One part of a split run (see split_plan). Returns the run's result when this part finished the run,
    else None. Idempotent: a part already done (or being done by another job) is skipped."""
    from .models import EnginePart, EngineRun

    schema = _schema_name(brand)
    result = None
    with schema_context(schema), transaction.atomic(), connection.cursor() as cursor:
        _begin(cursor, schema, shared=True)
        part = (EnginePart.objects.select_for_update(skip_locked=True)
                .filter(run_id=run_id, number=number, finished_at__isnull=True).select_related("run").first())
        if part is None:
            return None
        run = part.run
        plan = _Plan(day=run.day, after=run.after, since=run.since, seen_id=run.seen_relationship_id,
                     max_relationship_id=run.max_relationship_id, started_at=run.started_at)
        part.created = _issue(cursor, plan=plan, brand_id=_brand_id(schema), lo=part.member_from, hi=part.member_to)
        part.finished_at = timezone.now()
        part.save(update_fields=["created", "finished_at"])
        # The last part to finish closes the run. Parts finishing together queue on the run's row; the second
        # reads after the first committed, so exactly one of them sees no part left.
        run = EngineRun.objects.select_for_update().get(pk=run_id)
        if run.finished_at is None and not EnginePart.objects.filter(run_id=run_id, finished_at__isnull=True).exists():
            # every part's tasks are checked here: they are not all this transaction's
            completed, cancelled, expired = _close(cursor, schema=schema, day=run.day, max_task_id=None)
            run.created = sum(EnginePart.objects.filter(run_id=run_id).values_list("created", flat=True))
            run.completed, run.cancelled, run.expired, run.finished_at = completed, cancelled, expired, timezone.now()
            run.save(update_fields=["created", "completed", "cancelled", "expired", "finished_at"])
            result = RunResult(schema=schema, day=run.day, created=run.created, completed=completed,
                               cancelled=cancelled, expired=expired)
    return _logged(result) if result else None
