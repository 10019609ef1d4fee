"""Writes for customer handovers (离职继承 / 在职继承).

Everything here runs in the brand's schema (callers enter it; the Celery tasks do). Bulk work is
set-based: items are created with one INSERT ... SELECT, claimed with one UPDATE ... RETURNING and
settled with a few UPDATEs over id arrays. Nothing here keeps state in memory between calls, so a
killed worker, a second worker or a double click only ever re-reads the rows and carries on.

Why a customer is never submitted twice: an item is claimed (pending -> submitted, committed) before
WeCom is called, by an UPDATE that skips rows another transaction holds. A submitted item goes back to
pending only when WeCom's transfer_result for that (handover, successor) pair does not know it after
a grace period; and WeCom itself answers 40100/40129 for a customer already in transfer, which we
treat as submitted.

WeCom: https://developer.work.weixin.qq.com/document/path/94081 (resigned/transfer_customer),
94082 (resigned/transfer_result), 92125 / 94088 (on-job), 92127 (groupchat/transfer).
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import os
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from guides.models import Guide, GuideStatus
from scrm.errors import AppError, Conflict
from tenants.services import audit
from wecom.client import RateLimited, WeComError, mall_client

from .models import (
    Handover,
    HandoverGroup,
    HandoverItem,
    HandoverKind,
    HandoverStatus,
    ItemState,
)

logger = logging.getLogger(__name__)

CHUNK = 100  # WeCom takes at most 100 customers (and 100 groups) per call
GROUPS_PER_DAY_PER_OWNER = 300
TAKEOVER_UNKNOWN = (40003, 60111)  # whole-call: a userid is not in the directory (the successor left WeCom)
RETRY_GROUP_CODES = (90500, 90507, 45009)  # groupchat/transfer per-group codes that mean "try again later"
RETRY_LATER = dt.timedelta(minutes=10)
MAX_CALL_ATTEMPTS = 5
ONJOB_WINDOW = dt.timedelta(days=90)
ONJOB_MAX_PER_WINDOW = 2


def _resubmit_after() -> dt.timedelta:
    """A claimed item WeCom still does not know after this long was never really sent (worker died)."""
    seconds = getattr(settings, "HANDOVER_RESUBMIT_AFTER_SECONDS", None)
    if seconds is None:
        seconds = int(os.environ.get("HANDOVER_RESUBMIT_AFTER_SECONDS", "600"))
    return dt.timedelta(seconds=seconds)


# --------------------------------------------------------------------------- errcode / status tables

# What to do with a customer, by resigned/transfer_customer's per-customer errcode (reference §6.3).
WAIT, REASSIGN, NO_RELATIONSHIP, RETRY_LATER_ACTION, FAIL = "wait", "reassign", "no_relationship", "retry", "fail"
ERRCODE_ACTIONS = {
    0: WAIT,  # transfer started; WeCom takes over after 24 h unless the customer refuses
    40100: WAIT,  # already in a transfer from this guide (e.g. our own earlier call): poll it
    40129: WAIT,  # already being transferred: poll it
    40099: REASSIGN,  # successor has reached the external-contact limit
    40098: REASSIGN,  # successor not real-name verified
    41054: REASSIGN,  # successor not activated
    40130: REASSIGN,  # successor is the departed guide
    84061: NO_RELATIONSHIP,  # the guide deleted the customer: nothing to hand over
    40131: NO_RELATIONSHIP,  # the guide is not (any more) the customer's follower
    40097: RETRY_LATER_ACTION,  # WeCom has not seen the resignation yet
}


def errcode_action(errcode: int) -> str:
    """resigned/transfer_customer per-customer errcode -> wait / reassign / no_relationship / retry / fail."""
    return ERRCODE_ACTIONS.get(errcode, FAIL)


# transfer_result status -> item state; 4 (successor at limit) means "choose another successor"
RESULT_STATES = {1: ItemState.TAKEN_OVER, 2: ItemState.WAITING, 3: ItemState.REFUSED,
                 4: ItemState.SUCCESSOR_AT_LIMIT, 5: ItemState.NO_RELATIONSHIP}


# --------------------------------------------------------------------------- small SQL helpers

def _exec(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall() if cursor.description else []


def _brand():
    return connection.tenant


def _schema() -> str:
    return connection.schema_name


# --------------------------------------------------------------------------- start

def handover_start(*, guide: Guide, source: str, actor: str = "system") -> Handover:
    """Open the resigned handover of ``guide`` (one per guide) with one item per active customer, and
    choose successors. Safe to call twice: a second call only adds customers that are new since."""
    with transaction.atomic():
        handover, created = Handover.objects.get_or_create(
            guide=guide, kind=HandoverKind.RESIGNED, defaults={"source": source[:40], "created_by": actor[:64]})
        added = _items_from_relationships(handover, member_ids=None)
    if created:
        audit(action="handover.started", actor=actor, brand=guide.brand, guide_id=guide.pk, handover_id=handover.pk,
              source=source, customers=added)
    successors_assign(handover=handover)
    return handover


def _items_from_relationships(handover: Handover, *, member_ids: list[int] | None) -> int:
    """One pending item per active relationship of the handover's guide (INSERT ... SELECT)."""
    extra = "AND r.member_id = ANY(%s)" if member_ids is not None else ""
    params = [handover.pk, handover.guide_id] + ([list(member_ids)] if member_ids is not None else [])
    rows = _exec(f"""
        INSERT INTO handover_handoveritem (handover_id, member_id, external_userid, state, attempts, limit_hits,
               from_relationship_id, original_added_at, updated_at)
        SELECT %s, r.member_id,
               COALESCE(NULLIF(r.external_userid, ''),
                        (SELECT e.external_userid FROM members_memberexternalid e
                          WHERE e.member_id = r.member_id ORDER BY e.id LIMIT 1), ''),
               'pending', 0, 0, r.id, r.added_at, now()
          FROM brandguides_relationship r
         WHERE r.guide_id = %s AND r.status = 'active' {extra}
        ON CONFLICT (handover_id, member_id) DO NOTHING
        RETURNING id""", params)
    # a customer we cannot name to WeCom cannot be handed over
    _exec("""UPDATE handover_handoveritem SET state = 'no_relationship', finished_at = now(), updated_at = now()
              WHERE handover_id = %s AND state = 'pending' AND external_userid = ''""", [handover.pk])
    return len(rows)


# --------------------------------------------------------------------------- successors

@dataclass(frozen=True)
class Candidate:
    guide_id: int
    counter_id: int | None
    store_id: int | None
    load: int


def successor_candidates(*, handover: Handover) -> list[Candidate]:
    """Active guides of the brand who may take over, with their open workload (active customers plus
    customers already on their way to them), best tier first: same counter, same store, brand-wide."""
    departed = handover.guide
    excluded = set(handover.excluded_successors or []) | {departed.pk}
    guides = list(Guide.objects.filter(brand_id=departed.brand_id, status=GuideStatus.ACTIVE)
                  .exclude(pk__in=excluded).values_list("pk", "counter_id", "counter__store_id"))
    if not guides:
        return []
    ids = [g[0] for g in guides]
    load = dict(_exec("""SELECT guide_id, count(*) FROM brandguides_relationship
                          WHERE status = 'active' AND guide_id = ANY(%s) GROUP BY guide_id""", [ids]))
    for guide_id, n in _exec("""SELECT successor_id, count(*) FROM handover_handoveritem
                                 WHERE state IN ('pending', 'submitted', 'waiting') AND successor_id = ANY(%s)
                                 GROUP BY successor_id""", [ids]):
        load[guide_id] = load.get(guide_id, 0) + n
    store_id = departed.counter.store_id if departed.counter_id else None
    tiers = [
        [g for g in guides if departed.counter_id and g[1] == departed.counter_id],
        [g for g in guides if store_id and g[2] == store_id],
        guides,
    ]
    best = next(t for t in tiers if t)
    return [Candidate(g[0], g[1], g[2], load.get(g[0], 0)) for g in best]


def successors_assign(*, handover: Handover) -> int:
    """Give every pending customer without a successor the least-loaded guide of the best tier.

    On-job handovers have their successor chosen by the manager; a customer whose successor turned
    out to be full waits in "successor at limit" for the manager. With nobody available the handover
    shows "needs successor". Returns how many customers got a successor."""
    open_ids = [row[0] for row in _exec(
        """SELECT id FROM handover_handoveritem WHERE handover_id = %s AND state = 'pending'
            AND successor_id IS NULL ORDER BY id""", [handover.pk])]
    candidates = successor_candidates(handover=handover) if handover.kind == HandoverKind.RESIGNED else []
    if open_ids and candidates:
        heap = [(c.load, c.guide_id) for c in candidates]
        heapq.heapify(heap)
        chosen = []
        for _item in open_ids:  # water-filling: the least-loaded guide gets the next customer
            load, guide_id = heapq.heappop(heap)
            chosen.append(guide_id)
            heapq.heappush(heap, (load + 1, guide_id))
        _exec("""UPDATE handover_handoveritem i SET successor_id = v.guide_id, updated_at = now()
                   FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, guide_id)
                  WHERE i.id = v.id AND i.state = 'pending' AND i.successor_id IS NULL""", [open_ids, chosen])
    else:
        # a customer who already hit a full successor and has no one else: visible for the manager
        _exec("""UPDATE handover_handoveritem SET state = 'successor_at_limit', finished_at = now(), updated_at = now()
                  WHERE handover_id = %s AND state = 'pending' AND successor_id IS NULL AND limit_hits > 0""",
              [handover.pk])
    handover_refresh(handover_id=handover.pk)
    return len(open_ids) if candidates else 0


def handover_assign(*, handover: Handover, successor: Guide, item_ids: list[int] | None = None,
                    actor: str = "system") -> int:
    """A brand manager's choice of successor, for some customers or (``item_ids=None``) for every one that is
    not on its way yet. Customers already submitted to WeCom keep their successor."""
    if successor.brand_id != handover.guide.brand_id or not successor.is_active or successor.pk == handover.guide_id:
        raise AppError("The successor must be another active guide of this brand. 接替人须为本品牌其他在职导购。",
                       code="invalid_successor", fields={"successor": ["Not allowed."]})
    with transaction.atomic():
        Handover.objects.select_for_update().filter(pk=handover.pk).first()
        excluded = [g for g in (handover.excluded_successors or []) if g != successor.pk]
        Handover.objects.filter(pk=handover.pk).update(excluded_successors=excluded, updated_at=timezone.now())
        only = "AND id = ANY(%s)" if item_ids is not None else ""
        params = [successor.pk, handover.pk] + ([list(item_ids)] if item_ids is not None else [])
        changed = _exec(f"""
            UPDATE handover_handoveritem SET successor_id = %s, state = 'pending', errcode = NULL, wecom_status = NULL,
                   finished_at = NULL, next_attempt_at = NULL, updated_at = now()
             WHERE handover_id = %s AND state IN ('pending', 'successor_at_limit', 'failed') {only}
            RETURNING id""", params)
    audit(action="handover.successor_set", actor=actor, brand=handover.guide.brand, guide_id=successor.pk,
          handover_id=handover.pk, customers=len(changed))
    handover_refresh(handover_id=handover.pk)
    return len(changed)


def _exclude_and_reassign(handover: Handover, successor_ids: set[int], item_ids: list[int]) -> None:
    """WeCom said these successors cannot take more: never pick them again here, and choose others."""
    if not item_ids:
        return
    with transaction.atomic():
        locked = Handover.objects.select_for_update().get(pk=handover.pk)
        locked.excluded_successors = sorted(set(locked.excluded_successors or []) | successor_ids)
        locked.save(update_fields=["excluded_successors", "updated_at"])
    handover.excluded_successors = locked.excluded_successors
    keep_successor = handover.kind == HandoverKind.ONJOB  # the manager chose; they decide again
    _exec(f"""UPDATE handover_handoveritem SET state = %s, limit_hits = limit_hits + 1,
                     successor_id = {'successor_id' if keep_successor else 'NULL'},
                     finished_at = {'now()' if keep_successor else 'NULL'}, updated_at = now()
               WHERE id = ANY(%s)""",
          [ItemState.SUCCESSOR_AT_LIMIT if keep_successor else ItemState.PENDING, item_ids])
    successors_assign(handover=handover)


# --------------------------------------------------------------------------- submit

class RateLimitedLater(Exception):
    """WeCom said 45009/45033: the chunk went back to pending; try again after ``countdown`` seconds."""

    def __init__(self, countdown: int):
        super().__init__(countdown)
        self.countdown = countdown


def _claim_chunk(handover_id: int) -> list[tuple[int, str, int]]:
    """Claim up to 100 pending customers of one successor (committed before WeCom is called)."""
    return _exec("""
        WITH pick AS (
            SELECT successor_id FROM handover_handoveritem
             WHERE handover_id = %s AND state = 'pending' AND successor_id IS NOT NULL
               AND (next_attempt_at IS NULL OR next_attempt_at <= now())
             ORDER BY id LIMIT 1
        ), claim AS (
            SELECT id FROM handover_handoveritem
             WHERE handover_id = %s AND state = 'pending' AND successor_id = (SELECT successor_id FROM pick)
               AND (next_attempt_at IS NULL OR next_attempt_at <= now())
             ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
        )
        UPDATE handover_handoveritem i SET state = 'submitted', submitted_at = now(), attempts = i.attempts + 1,
               errcode = NULL, updated_at = now()
          FROM claim WHERE i.id = claim.id AND i.state = 'pending'
        RETURNING i.id, i.external_userid, i.successor_id""", [handover_id, handover_id, CHUNK])


def handover_submit_chunk(*, handover_id: int) -> int:
    """Submit one chunk (<= 100 customers, one successor) to WeCom. Returns how many were claimed (0 = none
    left). Raises :class:`RateLimitedLater` on 45009/45033 after putting the chunk back."""
    handover = Handover.objects.select_related("guide").get(pk=handover_id)
    rows = _claim_chunk(handover_id)
    if not rows:
        return 0
    ids = [r[0] for r in rows]
    by_euid = {r[1]: r[0] for r in rows}
    successor = Guide.objects.get(pk=rows[0][2])
    client = mall_client()
    try:
        if handover.kind == HandoverKind.ONJOB:
            answer = client.transfer_customer(handover.guide.wecom_userid, successor.wecom_userid, list(by_euid),
                                              handover.message)
        else:
            answer = client.resigned_transfer_customer(handover.guide.wecom_userid, successor.wecom_userid,
                                                       list(by_euid))
    except RateLimited as exc:
        # WeCom refused the whole call: nothing started; back off (doubling with each attempt)
        countdown = min(600, 15 * 2 ** (max(r[0] for r in _exec(
            "SELECT max(attempts) FROM handover_handoveritem WHERE id = ANY(%s)", [ids])) or 1))
        _exec("""UPDATE handover_handoveritem SET state = 'pending', errcode = %s, updated_at = now(),
                        next_attempt_at = now() + make_interval(secs => %s)
                  WHERE id = ANY(%s) AND state = 'submitted'""", [exc.errcode, countdown, ids])
        logger.warning("handover.rate_limited", extra={"tenant": _schema(), "handover_id": handover_id})
        raise RateLimitedLater(countdown) from exc
    except WeComError as exc:
        if exc.errcode in TAKEOVER_UNKNOWN:
            _successor_unknown(handover, successor, ids, exc.errcode)
            return len(ids)
        if exc.errcode is None:
            # network: WeCom may or may not have started these; transfer_result will tell (see recover)
            logger.warning("handover.submit_unknown", extra={"tenant": _schema(), "handover_id": handover_id})
            return len(ids)
        _exec("""UPDATE handover_handoveritem
                    SET state = CASE WHEN attempts >= %s THEN 'failed' ELSE 'pending' END,
                        finished_at = CASE WHEN attempts >= %s THEN now() END,
                        errcode = %s, next_attempt_at = now() + interval '5 minutes', updated_at = now()
                  WHERE id = ANY(%s) AND state = 'submitted'""",
              [MAX_CALL_ATTEMPTS, MAX_CALL_ATTEMPTS, exc.errcode, ids])
        return len(ids)
    _apply_submit_answer(handover, successor, by_euid, answer.get("customer") or [])
    return len(ids)


def _successor_unknown(handover: Handover, successor: Guide, ids: list[int], errcode: int) -> None:
    """WeCom refused the whole call because a userid is not (any more) in the corp's directory: the successor
    we chose left WeCom or never was there. Nothing started. A resigned guide's customers go to another
    colleague (or wait visibly for the manager); an on-job move fails with the errcode for the manager."""
    with transaction.atomic():
        locked = Handover.objects.select_for_update().get(pk=handover.pk)
        locked.excluded_successors = sorted(set(locked.excluded_successors or []) | {successor.pk})
        locked.save(update_fields=["excluded_successors", "updated_at"])
    handover.excluded_successors = locked.excluded_successors
    if handover.kind == HandoverKind.ONJOB:
        _exec("""UPDATE handover_handoveritem SET state = 'failed', errcode = %s, finished_at = now(), updated_at = now()
                  WHERE id = ANY(%s) AND state = 'submitted'""", [errcode, ids])
    else:
        _exec("""UPDATE handover_handoveritem SET state = 'pending', successor_id = NULL, errcode = %s,
                        updated_at = now()
                  WHERE id = ANY(%s) AND state = 'submitted'""", [errcode, ids])
    logger.warning("handover.successor_unknown", extra={"tenant": _schema(), "handover_id": handover.pk,
                                                         "guide_id": successor.pk, "errcode": errcode})
    successors_assign(handover=handover)


def _apply_submit_answer(handover: Handover, successor: Guide, by_euid: dict[str, int], customers: list[dict]) -> None:
    groups: dict[str, list[int]] = {WAIT: [], REASSIGN: [], NO_RELATIONSHIP: [], RETRY_LATER_ACTION: [], FAIL: []}
    codes: list[tuple[int, int]] = []
    seen = set()
    for entry in customers:
        item_id = by_euid.get(entry.get("external_userid"))
        if item_id is None or item_id in seen:
            continue
        seen.add(item_id)
        code = int(entry.get("errcode") or 0)
        groups[errcode_action(code)].append(item_id)
        codes.append((item_id, code))
    # WeCom did not mention them: unknown, leave submitted; the result poll settles them
    if codes:
        _exec("""UPDATE handover_handoveritem i SET errcode = NULLIF(v.code, 0), updated_at = now()
                   FROM unnest(%s::bigint[], %s::int[]) AS v(id, code) WHERE i.id = v.id""",
              [[c[0] for c in codes], [c[1] for c in codes]])
    _exec("""UPDATE handover_handoveritem SET state = 'waiting', wecom_status = 2, updated_at = now()
              WHERE id = ANY(%s) AND state = 'submitted'""", [groups[WAIT]])
    _exec("""UPDATE handover_handoveritem SET state = 'no_relationship', finished_at = now(), updated_at = now()
              WHERE id = ANY(%s) AND state = 'submitted'""", [groups[NO_RELATIONSHIP]])
    _exec("""UPDATE handover_handoveritem SET state = 'failed', finished_at = now(), updated_at = now()
              WHERE id = ANY(%s) AND state = 'submitted'""", [groups[FAIL]])
    _exec("""UPDATE handover_handoveritem SET state = 'pending', next_attempt_at = now() + %s, updated_at = now()
              WHERE id = ANY(%s) AND state = 'submitted'""", [RETRY_LATER, groups[RETRY_LATER_ACTION]])
    if groups[NO_RELATIONSHIP]:
        _end_old_relationships(handover, groups[NO_RELATIONSHIP], reason="no_relationship")
    _exclude_and_reassign(handover, {successor.pk}, groups[REASSIGN])
    handover_refresh(handover_id=handover.pk)


def handover_submit_all(*, handover_id: int, max_chunks: int | None = None) -> int:
    """Submit chunks until none is left (or ``max_chunks``). Returns customers claimed."""
    total, chunks = 0, 0
    while max_chunks is None or chunks < max_chunks:
        claimed = handover_submit_chunk(handover_id=handover_id)
        if not claimed:
            break
        total += claimed
        chunks += 1
    handover_refresh(handover_id=handover_id)
    return total


# --------------------------------------------------------------------------- results

def handover_poll(*, handover_id: int) -> dict[str, int]:
    """Read transfer_result for every (departed guide, successor) pair with customers on their way, page by
    page with its cursor, and settle each customer. Returns how many moved to each state."""
    handover = Handover.objects.select_related("guide").get(pk=handover_id)
    pairs = [r[0] for r in _exec("""SELECT DISTINCT successor_id FROM handover_handoveritem
                                    WHERE handover_id = %s AND state IN ('submitted', 'waiting')
                                      AND successor_id IS NOT NULL""", [handover_id])]
    moved: dict[str, int] = {}
    client = mall_client()
    for successor in Guide.objects.filter(pk__in=pairs).order_by("pk"):
        results: dict[str, tuple[int, int]] = {}
        cursor = ""
        while True:
            if handover.kind == HandoverKind.ONJOB:
                page = client.transfer_result(handover.guide.wecom_userid, successor.wecom_userid, cursor)
            else:
                page = client.resigned_transfer_result(handover.guide.wecom_userid, successor.wecom_userid, cursor)
            for entry in page.get("customer") or []:
                results[entry["external_userid"]] = (int(entry.get("status") or 0),
                                                     int(entry.get("takeover_time") or 0))
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break
        for state, count in _settle(handover, successor, results).items():
            moved[state] = moved.get(state, 0) + count
    handover_refresh(handover_id=handover_id)
    return moved


def _settle(handover: Handover, successor: Guide, results: dict[str, tuple[int, int]]) -> dict[str, int]:
    rows = _exec("""SELECT id, external_userid, state, submitted_at FROM handover_handoveritem
                     WHERE handover_id = %s AND successor_id = %s AND state IN ('submitted', 'waiting')""",
                 [handover.pk, successor.pk])
    by_state: dict[str, list[int]] = {}
    takeover_at: list[tuple[int, int]] = []
    lost: list[int] = []
    stale_before = timezone.now() - _resubmit_after()
    for item_id, euid, state, submitted_at in rows:
        if euid not in results:
            if state == ItemState.SUBMITTED and submitted_at and submitted_at < stale_before:
                lost.append(item_id)  # claimed but never reached WeCom (worker died before the call)
            continue
        status, takeover_time = results[euid]
        new_state = RESULT_STATES.get(status)
        if new_state is None:
            continue
        by_state.setdefault(new_state, []).append(item_id)
        takeover_at.append((item_id, takeover_time))
    if takeover_at:
        _exec("""UPDATE handover_handoveritem i SET takeover_time = CASE WHEN v.t > 0 THEN to_timestamp(v.t) END
                   FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, t) WHERE i.id = v.id""",
              [[t[0] for t in takeover_at], [t[1] for t in takeover_at]])
    if lost:
        _exec("""UPDATE handover_handoveritem SET state = 'pending', updated_at = now()
                  WHERE id = ANY(%s) AND state = 'submitted'""", [lost])
    moved = {"resubmit": len(lost)} if lost else {}
    for state, ids in by_state.items():
        moved[state] = len(_items_settle(handover, ids, state))
    return moved


def _items_settle(handover: Handover, ids: list[int], state: str) -> list[int]:
    """Move on-their-way items to a WeCom result state, with its platform follow-up. Idempotent: only items
    still submitted/waiting move, and each follow-up touches only what just moved. The handover's status
    is re-derived afterwards, so what the dashboard shows never lags the items."""
    moved = _items_settle_states(handover, ids, state)
    handover_refresh(handover_id=handover.pk)
    return moved


def _items_settle_states(handover: Handover, ids: list[int], state: str) -> list[int]:
    if state == ItemState.WAITING:
        return [r[0] for r in _exec("""UPDATE handover_handoveritem SET state = 'waiting', wecom_status = 2,
                                              updated_at = now()
                                        WHERE id = ANY(%s) AND state IN ('submitted', 'waiting') RETURNING id""",
                                    [ids])]
    if state == ItemState.SUCCESSOR_AT_LIMIT:
        changed = [r for r in _exec("""SELECT id, successor_id FROM handover_handoveritem
                                        WHERE id = ANY(%s) AND state IN ('submitted', 'waiting')""", [ids])]
        _exec("UPDATE handover_handoveritem SET wecom_status = 4 WHERE id = ANY(%s)", [[r[0] for r in changed]])
        _exclude_and_reassign(handover, {r[1] for r in changed}, [r[0] for r in changed])
        return [r[0] for r in changed]
    status = {v: k for k, v in RESULT_STATES.items()}[state]
    with transaction.atomic():
        done = [r[0] for r in _exec("""UPDATE handover_handoveritem SET state = %s, wecom_status = %s,
                                              finished_at = now(), updated_at = now()
                                        WHERE id = ANY(%s) AND state IN ('submitted', 'waiting') RETURNING id""",
                                    [state, status, ids])]
        if not done:
            return done
        if state == ItemState.TAKEN_OVER:
            _move_relationships(handover, done)
        elif state == ItemState.REFUSED and handover.kind == HandoverKind.RESIGNED:
            # a resigned guide's customer who refuses is lost to WeCom; memberships stay
            _end_old_relationships(handover, done, reason="transfer_refused")
        elif state == ItemState.NO_RELATIONSHIP:
            _end_old_relationships(handover, done, reason="no_relationship")
        audit(action=f"handover.{state}", brand=handover.guide.brand, guide_id=handover.guide_id, handover_id=handover.pk,
              customers=len(done))
    return done


def _move_relationships(handover: Handover, item_ids: list[int]) -> None:
    """Taken over: the successor's relationship carries the original day 0 (lifecycle day unchanged), channel,
    State and the departed guide's remark, description and corp tags (unless WeCom already gave it its own);
    the departed guide's ends as "transferred". The add_external_contact callback WeCom sends for the
    successor may come before or after this: whichever comes second changes nothing else."""
    _exec("""
        INSERT INTO brandguides_relationship AS r (guide_id, member_id, external_userid, channel, state,
               readded_count, added_at, status, ended_at, ended_reason, remark, description, tag_ids)
        SELECT i.successor_id, i.member_id, i.external_userid, COALESCE(o.channel, ''), COALESCE(o.state, ''), 0,
               COALESCE(o.added_at, i.original_added_at, now()), 'active', NULL, '',
               COALESCE(o.remark, ''), COALESCE(o.description, ''), COALESCE(o.tag_ids, '{}')
          FROM handover_handoveritem i LEFT JOIN brandguides_relationship o ON o.id = i.from_relationship_id
         WHERE i.id = ANY(%s)
        ON CONFLICT (guide_id, member_id) DO UPDATE
           SET added_at = EXCLUDED.added_at, channel = EXCLUDED.channel, state = EXCLUDED.state,
               external_userid = EXCLUDED.external_userid, status = 'active', ended_at = NULL, ended_reason = '',
               remark = COALESCE(NULLIF(r.remark, ''), EXCLUDED.remark),
               description = COALESCE(NULLIF(r.description, ''), EXCLUDED.description),
               tag_ids = CASE WHEN cardinality(r.tag_ids) > 0 THEN r.tag_ids ELSE EXCLUDED.tag_ids END
    """, [item_ids])
    _exec("""UPDATE handover_handoveritem i SET to_relationship_id = r.id
               FROM brandguides_relationship r
              WHERE i.id = ANY(%s) AND r.guide_id = i.successor_id AND r.member_id = i.member_id""", [item_ids])
    _end_old_relationships(handover, item_ids, reason="transferred")
    _tasks_move(handover, item_ids)


def _tasks_move(handover: Handover, item_ids: list[int]) -> int:
    """Open lifecycle and group tasks of the taken-over customers follow them to their successor, due dates
    and lifecycle day as issued (one UPDATE per successor, in the task engine's service)."""
    from tasks.services import tasks_reassign

    moved = 0
    for successor_id, member_ids in _exec("""SELECT successor_id, array_agg(member_id) FROM handover_handoveritem
                                              WHERE id = ANY(%s) GROUP BY successor_id""", [item_ids]):
        moved += tasks_reassign(member_ids=list(member_ids), from_guide_id=handover.guide_id,
                                to_guide_id=successor_id)
    return moved


def _end_old_relationships(handover: Handover, item_ids: list[int], *, reason: str) -> None:
    _exec("""UPDATE brandguides_relationship r SET status = 'ended', ended_at = now(), ended_reason = %s
               FROM handover_handoveritem i
              WHERE i.id = ANY(%s) AND r.guide_id = %s AND r.member_id = i.member_id AND r.status = 'active'""",
          [reason, item_ids, handover.guide_id])


def handover_transfer_fail(*, takeover: Guide, external_userid: str, reason: str) -> int:
    """The transfer_fail callback (customer_refused / customer_limit_exceed) for a successor: settle the
    matching on-their-way item at once instead of waiting for the next poll. Returns items settled."""
    state = ItemState.REFUSED if reason == "customer_refused" else ItemState.SUCCESSOR_AT_LIMIT
    settled = 0
    for handover_id, item_id in _exec("""SELECT handover_id, id FROM handover_handoveritem
                                         WHERE successor_id = %s AND external_userid = %s
                                           AND state IN ('submitted', 'waiting')""",
                                      [takeover.pk, external_userid]):
        handover = Handover.objects.select_related("guide").get(pk=handover_id)
        settled += len(_items_settle(handover, [item_id], state))
        handover_refresh(handover_id=handover_id)
    return settled


def handover_refresh(*, handover_id: int) -> str:
    """The handover's status, derived from its items."""
    needs, moving, waiting = _exec("""
        SELECT count(*) FILTER (WHERE state = 'pending' AND successor_id IS NULL),
               count(*) FILTER (WHERE state IN ('pending', 'submitted')),
               count(*) FILTER (WHERE state = 'waiting')
          FROM handover_handoveritem WHERE handover_id = %s""", [handover_id])[0]
    if needs:
        status = HandoverStatus.NEEDS_SUCCESSOR
    elif moving:
        status = HandoverStatus.TRANSFERRING
    elif waiting:
        status = HandoverStatus.WAITING_RESULTS
    else:
        status = HandoverStatus.DONE
    Handover.objects.filter(pk=handover_id).exclude(status=status).update(
        status=status, updated_at=timezone.now(), finished_at=timezone.now() if status == HandoverStatus.DONE else None)
    return status


def handover_run(*, handover_id: int) -> str:
    """One pass: settle what WeCom decided, submit what is pending, hand over the groups. Safe to repeat."""
    if _exec("""SELECT 1 FROM handover_handoveritem WHERE handover_id = %s AND state IN ('submitted', 'waiting')
                LIMIT 1""", [handover_id]):
        handover_poll(handover_id=handover_id)
    successors_assign(handover=Handover.objects.select_related("guide").get(pk=handover_id))
    handover_submit_all(handover_id=handover_id)
    handover = Handover.objects.select_related("guide").get(pk=handover_id)
    if handover.kind == HandoverKind.RESIGNED:
        groups_transfer(handover_id=handover_id)
    return handover_refresh(handover_id=handover_id)


def handovers_open_ids() -> list[int]:
    return list(Handover.objects.exclude(status=HandoverStatus.DONE).values_list("pk", flat=True))


# --------------------------------------------------------------------------- groups

def groups_transfer(*, handover_id: int) -> int:
    """The departed guide's customer groups go to the successor who took most of the customers, <= 100 per
    call and <= 300 a day per new owner (WeCom's limit; the rest wait for tomorrow's pass)."""
    from guides.brand.models import CustomerGroup

    handover = Handover.objects.select_related("guide").get(pk=handover_id)
    chat_ids = list(CustomerGroup.objects.filter(owner_id=handover.guide_id, status="normal")
                    .values_list("chat_id", flat=True))
    if chat_ids:
        HandoverGroup.objects.bulk_create([HandoverGroup(handover=handover, chat_id=c) for c in chat_ids],
                                          ignore_conflicts=True)
    pending = list(HandoverGroup.objects.filter(handover=handover, state="pending").values_list("pk", flat=True))
    if not pending:
        return 0
    owner_id = (HandoverItem.objects.filter(handover=handover, successor__isnull=False)
                .values("successor_id").annotate(n=Count("id"))
                .order_by("-n", "successor_id").values_list("successor_id", flat=True).first())
    if owner_id is None:
        candidates = successor_candidates(handover=handover)
        owner_id = min(candidates, key=lambda c: (c.load, c.guide_id)).guide_id if candidates else None
    if owner_id is None:
        return 0
    owner = Guide.objects.get(pk=owner_id)
    today = timezone.localdate()
    used = HandoverGroup.objects.filter(new_owner=owner, submitted_at__date=today).count()
    room = max(0, GROUPS_PER_DAY_PER_OWNER - used)
    done = 0
    client = mall_client()
    while room > 0:
        with transaction.atomic():
            batch = list(HandoverGroup.objects.select_for_update(skip_locked=True)
                         .filter(handover=handover, state="pending").order_by("pk")[:min(CHUNK, room)])
            HandoverGroup.objects.filter(pk__in=[g.pk for g in batch]).update(
                state="submitted", new_owner=owner, submitted_at=timezone.now())
        if not batch:
            break
        try:
            answer = client.groupchat_transfer([g.chat_id for g in batch], owner.wecom_userid)
        except WeComError:
            HandoverGroup.objects.filter(pk__in=[g.pk for g in batch], state="submitted").update(state="pending")
            raise
        failed = {f["chat_id"]: int(f.get("errcode") or 0) for f in answer.get("failed_chat_list") or []}
        for group in batch:
            code = failed.get(group.chat_id, 0)
            # 90508: already inherited (e.g. our own earlier call) counts as done; 90500/90507: WeCom is not
            # ready yet; 45009: the new owner's 300 a day are used up (also by transfers we did not make)
            state = "done" if code in (0, 90508) else "pending" if code in RETRY_GROUP_CODES else "failed"
            HandoverGroup.objects.filter(pk=group.pk).update(state=state, errcode=code or None)
        ok = [g.chat_id for g in batch if failed.get(g.chat_id, 0) in (0, 90508)]
        CustomerGroup.objects.filter(chat_id__in=ok).update(owner=owner, owner_userid=owner.wecom_userid)
        done += len(ok)
        room -= len(batch)
        if any(failed.get(g.chat_id) in RETRY_GROUP_CODES for g in batch):
            break  # WeCom not ready for these yet: the next pass tries again
    return done


# --------------------------------------------------------------------------- on-job transfers

def onjob_recent_transfers(*, member_ids: list[int]) -> dict[int, int]:
    """How many on-job transfers each customer had in the last 90 days, as far as the platform knows
    (the 40128 rule: at most 2). Used to warn before submitting."""
    since = timezone.now() - ONJOB_WINDOW
    rows = _exec("""SELECT i.member_id, count(*) FROM handover_handoveritem i
                      JOIN handover_handover h ON h.id = i.handover_id
                     WHERE h.kind = 'onjob' AND i.member_id = ANY(%s) AND i.submitted_at >= %s
                       AND i.state IN ('submitted', 'waiting', 'taken_over')
                     GROUP BY i.member_id""", [list(member_ids), since])
    return dict(rows)


def onjob_transfer_create(*, from_guide: Guide, to_guide: Guide, member_ids: list[int] | None, message: str = "",
                          actor: str = "system", skip_too_frequent: bool = True) -> Handover:
    """A brand manager moves customers between two active guides (在职继承) with a message the customer sees.
    ``member_ids=None`` moves all of ``from_guide``'s customers. Customers the platform knows were already
    moved twice in 90 days are left out (WeCom would answer 40128) unless ``skip_too_frequent`` is False."""
    if from_guide.brand_id != to_guide.brand_id or from_guide.pk == to_guide.pk:
        raise AppError("Both guides must be different guides of this brand. 须为本品牌的两位不同导购。",
                       code="invalid_guides", fields={"to_guide": ["Not allowed."]})
    if not (from_guide.is_active and to_guide.is_active):
        raise AppError("On-job transfers are between active guides. 在职继承仅限在职导购。", code="guide_not_active")
    if len(message) > 200:
        raise AppError("The message is at most 200 characters. 提示语最多200字。", code="message_too_long",
                       fields={"message": ["At most 200 characters."]})
    if member_ids is not None and not member_ids:
        raise AppError("Choose at least one customer. 请至少选择一位客户。", code="no_customers")
    with transaction.atomic():
        handover = Handover.objects.create(kind=HandoverKind.ONJOB, guide=from_guide, source="manager",
                                           message=message, created_by=actor[:64])
        added = _items_from_relationships(handover, member_ids=member_ids)
        if not added:
            raise Conflict("None of these customers is served by this guide. 所选客户不属于该导购。",
                           code="no_customers")
        HandoverItem.objects.filter(handover=handover, state=ItemState.PENDING).update(successor=to_guide)
        if skip_too_frequent:
            ids = list(HandoverItem.objects.filter(handover=handover).values_list("member_id", flat=True))
            frequent = [m for m, n in onjob_recent_transfers(member_ids=ids).items() if n >= ONJOB_MAX_PER_WINDOW]
            HandoverItem.objects.filter(handover=handover, member_id__in=frequent, state=ItemState.PENDING).update(
                state=ItemState.FAILED, errcode=40128, finished_at=timezone.now())
        audit(action="handover.onjob_started", actor=actor, brand=from_guide.brand, guide_id=from_guide.pk,
              handover_id=handover.pk, to_guide_id=to_guide.pk, customers=added)
    handover_refresh(handover_id=handover.pk)
    return handover


# --------------------------------------------------------------------------- nightly reconcile

def unassigned_reconcile() -> dict[str, int]:
    """externalcontact/get_unassigned_list (cursor mode): WeCom's own list of resigned members' customers.
    A guide WeCom lists who is still active here is resigned (which starts the handover); customers of a
    known handover that it lacks are added. Runs in the public schema; enters each brand's."""
    from django_tenants.utils import schema_context

    from members.models import MemberExternalId

    client = mall_client()
    by_user: dict[str, set[str]] = {}
    cursor = ""
    while True:
        page = client.get_unassigned_list(cursor=cursor, page_size=1000)
        for row in page.get("info") or []:
            by_user.setdefault(row["handover_userid"], set()).add(row["external_userid"])
        cursor = page.get("next_cursor") or ""
        if page.get("is_last", True) or not cursor:
            break
    counts = {"guides": 0, "resigned": 0, "added": 0}
    for guide in Guide.objects.select_related("brand", "counter").filter(wecom_userid__in=list(by_user)):
        counts["guides"] += 1
        if guide.is_active:
            from guides.services import guide_resign

            guide_resign(guide=guide, source="unassigned_reconcile")  # enqueues the handover start
            counts["resigned"] += 1
            continue
        member_ids = list(MemberExternalId.objects.filter(external_userid__in=by_user[guide.wecom_userid])
                          .values_list("member_id", flat=True))
        with schema_context(guide.brand.schema_name):
            handover = handover_start(guide=guide, source="unassigned_reconcile")
            counts["added"] += _items_from_relationships(handover, member_ids=member_ids)
            successors_assign(handover=handover)
    return counts
