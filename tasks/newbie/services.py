"""Writes for the newbie checklist (新手任务): progress from evidence, the guide's confirmations, the WeCom
Moment check, and the rewards, each credited once.

Who is a newbie: an active guide hired within the last ``NEWBIE_DAYS`` days (Asia/Shanghai). Veterans never
get the checklist, so launching it pays no coins to the 50,000 guides who have long done all of it.

``newbie_refresh`` is the one evaluation: for the newbies of one brand (all of them, or the ones named) it
counts the evidence (customers added, lifecycle tasks done, share links made) and upserts every (guide, step)
row in ONE statement, inside the brand's schema; steps whose count reached the target are marked done there,
and their rewards are credited in the same transaction. Done rows are never touched again, so running it
twice, or concurrently, changes nothing and pays nothing twice (the ledger's (guide, "newbie", step key) key
would refuse a second credit anyway).

Evidence, per step kind:
- customers_added: the guide's relationships in the brand added since the hire date (any status: the step
  is about adding), except customers inherited from a departed colleague (离职继承): not added by the newbie;
- lifecycle_task_done: the guide's lifecycle tasks (the 28-day program) in state done, by tap or evidence;
- share_link: the guide's share links (专属链接): making one in the sidebar is the share; whether a customer
  opens it is outside the guide's hands, and a step that waits on a stranger is not a game step;
- wecom_moment: a Moment whose creator is the guide, from WeCom's externalcontact/get_moment_list. WeCom
  has the evidence, so the guide may NOT confirm this one by tapping: "check now" asks WeCom. A corp whose
  WeCom app may not read customer Moments switches the step to "confirm" in the admin;
- confirm: no API shows it (e.g. the Moments cover image: WeCom has no read API for it), so one tap.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django_tenants.utils import schema_context

from guides.models import Guide, GuideStatus
from scrm.errors import AppError, Conflict, NotFound
from tenants.models import Brand

from .models import COUNTED, NewbieEvidence, NewbieProgress, NewbieStep

log = logging.getLogger(__name__)

REWARD_SOURCE = "newbie"
DEFAULT_NEWBIE_DAYS = 60
# get_moment_list takes at most 30 days per call (reference §8)
MOMENT_WINDOW = dt.timedelta(days=30) - dt.timedelta(minutes=1)


def newbie_days() -> int:
    return int(getattr(settings, "NEWBIE_DAYS", DEFAULT_NEWBIE_DAYS))


def newbie_since(today: dt.date | None = None) -> dt.date:
    """The earliest hire date that still makes a guide a newbie."""
    return (today or timezone.localdate()) - dt.timedelta(days=newbie_days())


def is_newbie(guide: Guide, today: dt.date | None = None) -> bool:
    """No query: decided from the guide row already loaded (the add path calls this for every customer)."""
    return guide.status == GuideStatus.ACTIVE and guide.hired_on >= newbie_since(today)


# --------------------------------------------------------------------------- the set-based refresh

# Steps of the counted kinds are measured; the other kinds only get their (empty) row. COUNT(*) per guide
# reads each table through its guide_id index, only for this brand's newbies.
_REFRESH_SQL = """
WITH g AS (
    SELECT id, (hired_on::timestamp AT TIME ZONE %(tz)s) AS hired_at FROM guides_guide
     WHERE brand_id = %(brand_id)s AND status = 'active' AND hired_on >= %(since)s
       AND (%(every)s OR id = ANY(%(guide_ids)s::bigint[]))
), s AS (
    SELECT id, evidence, target, reward_coins, reward_exp FROM newbie_newbiestep WHERE is_active
), customers AS (
    SELECT r.guide_id, count(*) AS n
      FROM brandguides_relationship r JOIN g ON g.id = r.guide_id AND r.added_at >= g.hired_at
     WHERE NOT EXISTS (SELECT 1 FROM handover_handoveritem i
                        WHERE i.successor_id = r.guide_id AND i.member_id = r.member_id)
     GROUP BY r.guide_id
), lifecycle AS (
    SELECT t.guide_id, count(*) AS n
      FROM tasks_guidetask t
     WHERE t.guide_id IN (SELECT id FROM g) AND t.source = 'lifecycle' AND t.state = 'done'
     GROUP BY t.guide_id
), links AS (
    SELECT l.guide_id, count(*) AS n, array_agg(l.id ORDER BY l.id) AS ids
      FROM incentives_sharelink l
     WHERE l.guide_id IN (SELECT id FROM g)
     GROUP BY l.guide_id
), measured AS (
    SELECT g.id AS guide_id, s.id AS step_id, s.evidence, s.target, s.reward_coins, s.reward_exp,
           CASE s.evidence WHEN 'customers_added' THEN COALESCE(c.n, 0)
                           WHEN 'lifecycle_task_done' THEN COALESCE(t.n, 0)
                           WHEN 'share_link' THEN COALESCE(k.n, 0) ELSE 0 END AS n,
           CASE WHEN s.evidence = 'share_link' THEN k.ids[1:s.target] END AS link_ids
      FROM g CROSS JOIN s
      LEFT JOIN customers c ON c.guide_id = g.id
      LEFT JOIN lifecycle t ON t.guide_id = g.id
      LEFT JOIN links k ON k.guide_id = g.id
), judged AS (
    SELECT m.*, (m.evidence = ANY(%(counted)s) AND m.n >= m.target) AS done FROM measured m
)
INSERT INTO newbie_newbieprogress AS p
       (guide_id, step_id, count, done_at, completed_by, evidence, reward_coins, reward_exp, reward_credited_at,
        created_at, updated_at)
SELECT j.guide_id, j.step_id, j.n,
       CASE WHEN j.done THEN now() END,
       CASE WHEN j.done THEN 'auto:' || j.evidence ELSE '' END,
       CASE WHEN NOT j.done THEN '{}'::jsonb
            WHEN j.link_ids IS NOT NULL THEN jsonb_build_object('count', j.n, 'share_link_ids', to_jsonb(j.link_ids))
            ELSE jsonb_build_object('count', j.n) END,
       CASE WHEN j.done THEN j.reward_coins ELSE 0 END,
       CASE WHEN j.done THEN j.reward_exp ELSE 0 END,
       NULL, now(), now()
  FROM judged j
 ORDER BY j.guide_id, j.step_id
ON CONFLICT (guide_id, step_id) DO UPDATE
   SET count = EXCLUDED.count, done_at = EXCLUDED.done_at, completed_by = EXCLUDED.completed_by,
       evidence = EXCLUDED.evidence, reward_coins = EXCLUDED.reward_coins, reward_exp = EXCLUDED.reward_exp,
       updated_at = EXCLUDED.updated_at
 WHERE p.done_at IS NULL AND (p.count, p.done_at) IS DISTINCT FROM (EXCLUDED.count, EXCLUDED.done_at)
RETURNING p.done_at IS NOT NULL
"""


@dataclass(frozen=True)
class RefreshResult:
    schema: str
    changed: int
    done: int
    credited: int


def _brand_of(brand: Brand | str) -> Brand:
    return brand if isinstance(brand, Brand) else Brand.objects.get(schema_name=brand)


def newbie_refresh(*, brand: Brand | str, guide_ids: list[int] | None = None) -> RefreshResult:
    """Recompute the newbie progress of ``guide_ids`` (default: every newbie of the brand) from the evidence,
    mark steps done and credit their rewards once. Idempotent; safe to run concurrently.

    Guides of another brand in ``guide_ids`` are ignored (their evidence is in another schema)."""
    brand = _brand_of(brand)
    if guide_ids is not None and not guide_ids:
        return RefreshResult(brand.schema_name, 0, 0, 0)
    params = {"brand_id": brand.pk, "since": newbie_since(), "tz": settings.TIME_ZONE, "every": guide_ids is None,
              "guide_ids": [int(g) for g in guide_ids or []], "counted": [k.value for k in COUNTED]}
    with schema_context(brand.schema_name), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_REFRESH_SQL, params)
        rows = cursor.fetchall()
        done = sum(1 for (is_done,) in rows if is_done)
        credited = _credit_due(guide_ids=guide_ids, brand_id=brand.pk)
    result = RefreshResult(brand.schema_name, len(rows), done, credited)
    if rows:
        log.info("newbie.refreshed", extra={"tenant": brand.schema_name, "newbie_changed": len(rows),
                                            "newbie_done": done, "newbie_credited": credited})
    return result


def _credit_due(*, guide_ids: list[int] | None, brand_id: int | None = None) -> int:
    """Credit every done, not yet credited step of these guides (must run inside the caller's transaction).

    Rows are locked (SKIP LOCKED: a concurrent run credits those) and stamped in the same transaction as the
    ledger entries; the ledger refuses a second entry for (guide, "newbie", step key) in any case."""
    from incentives.services import reward_credit

    due = (NewbieProgress.objects.select_for_update(skip_locked=True, of=("self",))
           .filter(done_at__isnull=False, reward_credited_at__isnull=True)
           .filter(Q(reward_coins__gt=0) | Q(reward_exp__gt=0)))
    if guide_ids is not None:
        due = due.filter(guide_id__in=guide_ids)
    if brand_id is not None:
        due = due.filter(guide__brand_id=brand_id)
    credited = []
    for pk, guide_id, key, title, coins, exp in due.order_by("pk").values_list(
            "pk", "guide_id", "step__key", "step__title", "reward_coins", "reward_exp"):
        reward_credit(guide_id=guide_id, coins=coins, exp=exp, source=REWARD_SOURCE, source_id=key,
                      note=f"新手任务 Newbie: {title}")
        credited.append(pk)
    if credited:
        NewbieProgress.objects.filter(pk__in=credited).update(reward_credited_at=timezone.now())
    return len(credited)


# --------------------------------------------------------------------------- one step done for one guide

_MARK_DONE_SQL = """
INSERT INTO newbie_newbieprogress AS p
       (guide_id, step_id, count, done_at, completed_by, evidence, reward_coins, reward_exp, reward_credited_at,
        created_at, updated_at)
VALUES (%(guide_id)s, %(step_id)s, %(count)s, now(), %(by)s, %(evidence)s::jsonb, %(coins)s, %(exp)s, NULL,
        now(), now())
ON CONFLICT (guide_id, step_id) DO UPDATE
   SET count = EXCLUDED.count, done_at = EXCLUDED.done_at, completed_by = EXCLUDED.completed_by,
       evidence = EXCLUDED.evidence, reward_coins = EXCLUDED.reward_coins, reward_exp = EXCLUDED.reward_exp,
       updated_at = EXCLUDED.updated_at
 WHERE p.done_at IS NULL
RETURNING p.id
"""


def _mark_done(*, guide_id: int, step: NewbieStep, by: str, evidence: dict) -> bool:
    """Mark one step done for one guide (once) and credit it. True if it was done now, False if it already was."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_MARK_DONE_SQL, {"guide_id": guide_id, "step_id": step.pk, "count": step.target, "by": by,
                                        "evidence": json.dumps(evidence), "coins": step.reward_coins,
                                        "exp": step.reward_exp})
        newly = cursor.fetchone() is not None
        _credit_due(guide_ids=[guide_id])
    return newly


def _newbie_or_refuse(guide: Guide) -> None:
    if not is_newbie(guide):
        raise Conflict("新手期已结束 · Your newbie period is over.", code="not_a_newbie")


def newbie_step_confirm(*, guide: Guide, step_id: int, actor: str = "") -> bool:
    """The guide taps "done" on a step only they can vouch for (e.g. the Moments cover). Only steps whose
    evidence kind is "confirm": anything the platform can check is checked, not taken on trust.
    Returns True when done now, False when it already was (a double tap pays nothing twice)."""
    _newbie_or_refuse(guide)
    step = NewbieStep.objects.filter(pk=step_id, is_active=True).first()
    if step is None:
        raise NotFound("步骤不存在 · No such step.", code="step_not_found")
    if step.evidence != NewbieEvidence.CONFIRM:
        raise Conflict("此步骤由系统自动核验 · This step is checked automatically.", code="step_verified_by_evidence")
    newly = _mark_done(guide_id=guide.pk, step=step, by="guide", evidence={"confirmed": True})
    if newly:
        from tenants.services import audit

        audit(action="newbie.step_confirmed", actor=actor or f"guide:{guide.pk}", brand=guide.brand,
              guide_id=guide.pk, step=step.key)
    return newly


# --------------------------------------------------------------------------- WeCom Moments

class MomentCheckUnavailable(AppError):
    status = 503
    code = "wecom_unavailable"


def _first_moment(guide: Guide, *, now: dt.datetime) -> dict | None:
    """The guide's first Moment since they were hired (within the last 30 days: WeCom's longest window),
    from externalcontact/get_moment_list filtered by creator. One call. Raises WeComError / RateLimited."""
    from wecom.client import mall_client

    hired = dt.datetime.combine(guide.hired_on, dt.time.min, tzinfo=timezone.get_current_timezone())
    start = max(hired, now - MOMENT_WINDOW)
    if start >= now:
        return None
    data = mall_client().get_moment_list(start_time=int(start.timestamp()), end_time=int(now.timestamp()),
                                         creator=guide.wecom_userid, limit=1)
    moments = data.get("moment_list") or []
    return moments[0] if moments else None


def _moment_steps_pending(guide_id: int) -> list[NewbieStep]:
    steps = list(NewbieStep.objects.filter(is_active=True, evidence=NewbieEvidence.WECOM_MOMENT))
    done = set(NewbieProgress.objects.filter(guide_id=guide_id, step__in=steps, done_at__isnull=False)
               .values_list("step_id", flat=True))
    return [s for s in steps if s.pk not in done]


def _moment_record(guide: Guide, steps: list[NewbieStep], moment: dict) -> int:
    evidence = {"moment_id": str(moment.get("moment_id", ""))[:64], "create_time": moment.get("create_time")}
    return sum(_mark_done(guide_id=guide.pk, step=step, by="auto:wecom_moment", evidence=evidence) for step in steps)


def newbie_moment_check(*, guide: Guide) -> bool:
    """The guide taps "check now" on the Moment step: ask WeCom whether they have posted one. True when the
    step is (now or already) done. WeCom unreachable or refusing: MomentCheckUnavailable."""
    from wecom.client import WeComError

    _newbie_or_refuse(guide)
    steps = _moment_steps_pending(guide.pk)
    if not steps:
        return True
    try:
        moment = _first_moment(guide, now=timezone.now())
    except WeComError as exc:
        log.warning("newbie.moment_check_failed", extra={"guide_id": guide.pk, "errcode": exc.errcode})
        raise MomentCheckUnavailable("暂时无法连接企业微信核验，请稍后再试 · WeCom could not be asked; "
                                     "please try again later.") from exc
    if moment is None:
        return False
    _moment_record(guide, steps, moment)
    return True


def newbie_moments_check(*, brand: Brand | str) -> int:
    """Nightly: ask WeCom about every newbie of the brand whose Moment step is still open (one call each).
    Returns how many steps were done. A rate limit stops the run (RateLimited propagates: the job retries
    later and the guides already checked are done); another WeCom error skips that guide."""
    from wecom.client import RateLimited, WeComError

    brand = _brand_of(brand)
    steps = list(NewbieStep.objects.filter(is_active=True, evidence=NewbieEvidence.WECOM_MOMENT))
    if not steps:
        return 0
    done_everything = (NewbieProgress.objects.filter(step__in=steps, done_at__isnull=False)
                       .values("guide_id").annotate(n=Count("id")).filter(n=len(steps)).values("guide_id"))
    guides = (Guide.objects.filter(brand=brand, status=GuideStatus.ACTIVE, hired_on__gte=newbie_since())
              .exclude(pk__in=done_everything).order_by("pk"))
    now, done = timezone.now(), 0
    for guide in guides:
        try:
            moment = _first_moment(guide, now=now)
        except RateLimited:
            raise
        except WeComError as exc:
            log.warning("newbie.moment_check_failed", extra={"guide_id": guide.pk, "errcode": exc.errcode})
            continue
        if moment is not None:
            done += _moment_record(guide, _moment_steps_pending(guide.pk), moment)
    return done


# --------------------------------------------------------------------------- enqueueing (the hooks)

def newbie_refresh_later(guide: Guide) -> None:
    """After the current transaction commits, refresh this guide's checklist in a worker. Costs nothing for a
    guide who is not a newbie. ``robust``: a broker outage must not fail the caller (the catch-up run will)."""
    if not is_newbie(guide):
        return
    guide_id = guide.pk

    def enqueue():
        from .tasks import refresh_guides

        refresh_guides.delay([guide_id])

    transaction.on_commit(enqueue, robust=True)


def after_customer_added(*, guide: Guide, first=None):
    """For the WeCom add path: a callable that runs ``first`` (the welcome message, whose code lives 20 s) and
    only then enqueues the newbie refresh. ``first`` unchanged for a guide who is not a newbie."""
    if not is_newbie(guide):
        return first

    def after():
        if first is not None:
            first()
        newbie_refresh_later(guide)

    return after
