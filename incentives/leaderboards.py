"""Leaderboards (排行榜) in Redis sorted sets: scopes mall / store / brand / counter, periods today /
this week / this month (Asia/Shanghai), metrics attributed sales, customers added, tasks completed
and coins. Events move them in real time; ``leaderboards_rebuild`` recomputes them from PostgreSQL
(Redis is a cache, not the record) and swaps each board in atomically.

Key: ``scrm:lb:<metric>:<period key>:<scope>:<scope id>`` -> {guide_id: score}; the period key is
``d20261123`` / ``w2026-48`` / ``m202611``, so a new day starts a new board and old ones expire.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from guides.models import Guide
from scrm.errors import AppError

from .feed import redis_client, script

log = logging.getLogger(__name__)

METRICS = {"sales": "销售额 Attributed sales", "customers": "新增客户 Customers added",
           "tasks": "完成任务 Tasks completed", "coins": "金币 Coins"}
PERIODS = {"today": "今日 Today", "week": "本周 This week", "month": "本月 This month"}
SCOPES = {"mall": "全商场 Mall", "store": "门店 Store", "brand": "品牌 Brand", "counter": "专柜 Counter"}
SHOP_SOURCES = ("redemption", "redemption_refund")  # coins spent / given back in the rewards shop
TASK_SOURCE = "guide_task"  # what the task engine credits completed tasks under
TTL = {"today": 3 * 86400, "week": 15 * 86400, "month": 63 * 86400}


def period_key(period: str, moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    if period == "today":
        return f"d{local:%Y%m%d}"
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"w{year}-{week:02d}"
    return f"m{local:%Y%m}"


def period_bounds(period: str, moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    local = timezone.localtime(moment)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "today":
        return start, start + dt.timedelta(days=1)
    if period == "week":
        start -= dt.timedelta(days=local.weekday())
        return start, start + dt.timedelta(days=7)
    start = start.replace(day=1)
    following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start, following


def board_key(metric: str, period: str, moment: dt.datetime, scope: str, scope_id) -> str:
    return f"scrm:lb:{metric}:{period_key(period, moment)}:{scope}:{scope_id}"


@dataclass(frozen=True)
class GuidePlace:
    guide_id: int
    brand_id: int
    counter_id: int | None
    store_id: int | None


def _places(guide_ids) -> dict[int, GuidePlace]:
    rows = Guide.objects.filter(pk__in=list(guide_ids)).values_list("pk", "brand_id", "counter_id", "counter__store_id")
    return {pk: GuidePlace(pk, brand, counter, store) for pk, brand, counter, store in rows}


def _scopes(place: GuidePlace) -> list[tuple[str, object]]:
    scopes = [("mall", "all"), ("brand", place.brand_id)]
    if place.counter_id:
        scopes.append(("counter", place.counter_id))
    if place.store_id:
        scopes.append(("store", place.store_id))
    return scopes


def bump(*, metric: str, guide_id: int, amount: float, at: dt.datetime | None = None) -> None:
    """Move a guide on every board they are on (4 scopes x 3 periods) in one round trip."""
    bump_many(metric=metric, moves=[(guide_id, amount, at)])


def bump_many(*, metric: str, moves: list[tuple[int, float, dt.datetime | None]]) -> None:
    """``bump`` for several (guide_id, amount, at) at once: one directory read and one Redis round trip."""
    moves = [(guide_id, amount, at) for guide_id, amount, at in moves if amount]
    if not moves:
        return
    now = timezone.now()
    places = _places({guide_id for guide_id, _amount, _at in moves})
    try:
        pipe = redis_client().pipeline(transaction=False)
        for guide_id, amount, at in moves:
            place = places.get(guide_id)
            if place is None:
                continue
            for period in PERIODS:
                for scope, scope_id in _scopes(place):
                    key = board_key(metric, period, at or now, scope, scope_id)
                    pipe.zincrby(key, amount, guide_id)
                    pipe.expire(key, TTL[period])
        pipe.execute()
    except Exception:  # the record is in PostgreSQL; a rebuild repairs the boards
        log.warning("incentives.leaderboard_bump_failed", extra={"guide_ids": sorted(places), "metric": metric},
                    exc_info=True)


# --------------------------------------------------------------------------- listeners (real time)

def _on_order(*, brand_id, guide_id, order_pk, paid_at, amount_cents) -> None:
    bump(metric="sales", guide_id=guide_id, amount=amount_cents, at=paid_at)  # a refund moves the sale's own day


def _on_credit(params: dict) -> None:
    if params["coins"] and params["source"] not in SHOP_SOURCES:  # spending in the shop is not earning less
        bump(metric="coins", guide_id=params["guide_id"], amount=params["coins"])
    if params["source"] == TASK_SOURCE and params["coins"] + params["exp"] > 0:
        bump(metric="tasks", guide_id=params["guide_id"], amount=1)


def on_relationship_saved(sender, instance, created, **kwargs) -> None:
    if created:
        from django.db import transaction

        transaction.on_commit(lambda: bump(metric="customers", guide_id=instance.guide_id, amount=1,
                                           at=instance.added_at))


def on_relationships_created(sender, relationships, **kwargs) -> None:
    from django.db import transaction

    moves = [(r.guide_id, 1, r.added_at) for r in relationships]
    transaction.on_commit(lambda: bump_many(metric="customers", moves=moves))


def connect() -> None:
    from django.db.models.signals import post_save

    from guides.brand.models import Relationship
    from guides.services import relationships_created

    from . import feed, services

    feed.on_order(_on_order)
    services.on_reward_credited(_on_credit)
    post_save.connect(on_relationship_saved, sender=Relationship, dispatch_uid="incentives.customers_added")
    relationships_created.connect(on_relationships_created, dispatch_uid="incentives.customers_added_many")


# --------------------------------------------------------------------------- rebuild from the database

def _brand_schemas() -> list[str]:
    from tenants.models import Brand

    return list(Brand.objects.exclude(schema_name="public").values_list("schema_name", flat=True))


def _table_exists(schema: str, table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f'"{schema}".{table}'])
        return cursor.fetchone()[0] is not None


def _per_guide(sql: str, params: list) -> dict[int, float]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {guide_id: float(total) for guide_id, total in cursor.fetchall() if total}


def metric_totals(metric: str, start: dt.datetime, end: dt.datetime) -> dict[int, float]:
    """Per-guide totals of a metric over [start, end) straight from the record (set-based, per brand)."""
    totals: dict[int, float] = defaultdict(float)
    if metric == "coins":
        return _per_guide("SELECT guide_id, SUM(coins) FROM incentives_rewardentry WHERE created_at >= %s "
                          "AND created_at < %s AND source <> ALL(%s) GROUP BY guide_id", [start, end, list(SHOP_SOURCES)])
    if metric == "tasks":  # a completed task is recorded by its reward entry (tasks.services.REWARD_SOURCE)
        return _per_guide("SELECT guide_id, COUNT(*) FROM incentives_rewardentry WHERE source = %s "
                          "AND coins + exp > 0 AND created_at >= %s AND created_at < %s GROUP BY guide_id",
                          [TASK_SOURCE, start, end])
    for schema in _brand_schemas():
        if metric == "sales":
            table, sql = "brandincentives_order", (
                # net of refunds, on the sale's own day (as the real-time boards move)
                'SELECT guide_id, SUM(amount_cents - refunded_cents) FROM "{s}".brandincentives_order '
                "WHERE guide_id IS NOT NULL AND paid_at >= %s AND paid_at < %s GROUP BY guide_id")
        else:
            table, sql = "brandguides_relationship", (
                'SELECT guide_id, COUNT(*) FROM "{s}".brandguides_relationship WHERE added_at >= %s '
                "AND added_at < %s GROUP BY guide_id")
        if not _table_exists(schema, table):
            continue
        for guide_id, total in _per_guide(sql.format(s=schema), [start, end]).items():
            totals[guide_id] += total
    return dict(totals)


def leaderboards_rebuild(*, moment: dt.datetime | None = None, metrics=None, periods=None) -> int:
    """Recompute the boards of the periods containing ``moment`` from PostgreSQL. Returns boards written."""
    moment = moment or timezone.now()
    client = redis_client()
    written = 0
    for metric in metrics or METRICS:
        for period in periods or PERIODS:
            totals = metric_totals(metric, *period_bounds(period, moment))
            places = _places(totals)
            boards: dict[str, dict] = defaultdict(dict)
            for guide_id, total in totals.items():
                if guide_id in places:
                    for scope, scope_id in _scopes(places[guide_id]):
                        boards[board_key(metric, period, moment, scope, scope_id)][guide_id] = total
            pattern = f"scrm:lb:{metric}:{period_key(period, moment)}:*"
            stale = {key.decode() for key in client.scan_iter(pattern) if not key.endswith(b":tmp")} - set(boards)
            pipe = client.pipeline(transaction=True)
            for key, scores in boards.items():
                pipe.delete(key + ":tmp")
                pipe.zadd(key + ":tmp", scores)
                pipe.rename(key + ":tmp", key)  # readers see the old board or the new, never half
                pipe.expire(key, TTL[period])
            for key in stale:
                pipe.delete(key)
            pipe.execute()
            written += len(boards)
    log.info("incentives.leaderboards_rebuilt", extra={"boards": written})
    return written


# --------------------------------------------------------------------------- reads

@dataclass(frozen=True)
class Row:
    rank: int
    guide_id: int
    name: str
    score: float
    is_me: bool


@dataclass(frozen=True)
class Board:
    metric: str
    period: str
    scope: str
    top: list[Row]
    me: Row | None
    neighbours: list[Row]
    size: int


def _check(metric: str, period: str, scope: str) -> None:
    fields = {}
    if metric not in METRICS:
        fields["metric"] = [f"One of {', '.join(METRICS)}."]
    if period not in PERIODS:
        fields["period"] = [f"One of {', '.join(PERIODS)}."]
    if scope not in SCOPES:
        fields["scope"] = [f"One of {', '.join(SCOPES)}."]
    if fields:
        raise AppError("Unknown leaderboard. 排行榜参数无效。", code="invalid_leaderboard", fields=fields)


def scope_id_for(guide: Guide, scope: str):
    if scope == "mall":
        return "all"
    if scope == "brand":
        return guide.brand_id
    if scope == "counter":
        return guide.counter_id
    return guide.counter.store_id if guide.counter_id else None


# A guide's view of a board in one round trip: the top, their index (-1: not on the board), the board's size,
# and the neighbours from ``start``. (A pipeline did the same in two round trips and cost more CPU to build.)
_GUIDE_VIEW = """
local head = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
local index = redis.call('ZREVRANK', KEYS[1], ARGV[1])
local size = redis.call('ZCARD', KEYS[1])
if not index then return {head, -1, size, 0, {}} end
local start = math.max(index - tonumber(ARGV[3]), 0)
return {head, index, size, start, redis.call('ZREVRANGE', KEYS[1], start, index + tonumber(ARGV[3]), 'WITHSCORES')}
"""


def _pairs(flat) -> list[tuple[bytes, float]]:
    """[member, score, member, score, ...] (a script's WITHSCORES reply) as (member, score) pairs."""
    return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]


def _names(ids: set[int]) -> dict[int, str]:
    """Guide names by id: one plain statement (a guide's every rank read runs it; the ORM's compile cost more)."""
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, name FROM {Guide._meta.db_table} WHERE id = ANY(%s)", [list(ids)])
        return dict(cursor.fetchall())


def board_for_guide(*, guide: Guide, metric: str, period: str, scope: str, top: int = 10, around: int = 2,
                    moment: dt.datetime | None = None) -> Board:
    """The board a guide sees: the top, their own rank, and the guides just above and below them."""
    _check(metric, period, scope)
    scope_id = scope_id_for(guide, scope)
    if scope_id is None:
        return Board(metric, period, scope, [], None, [], 0)
    key = board_key(metric, period, moment or timezone.now(), scope, scope_id)
    head, _, size, start, near = script(redis_client(), _GUIDE_VIEW)(keys=[key], args=[guide.pk, top, around])
    head, near = _pairs(head), _pairs(near)
    ids = {int(member) for member, _ in head} | {int(member) for member, _ in near}
    names = _names(ids)

    def rows(pairs, first_rank):
        return [Row(rank=first_rank + i, guide_id=int(member), name=names.get(int(member), "—"), score=score,
                    is_me=int(member) == guide.pk) for i, (member, score) in enumerate(pairs)]

    neighbours = rows(near, start + 1)
    me = next((row for row in neighbours if row.is_me), None)
    return Board(metric, period, scope, rows(head, 1), me, neighbours, size)


# --------------------------------------------------------------------------- reads for staff (dashboards, admin)

STAFF_TOP = 20


@dataclass(frozen=True)
class StaffRow:
    rank: int  # the guide's place on the whole board of the scope
    guide_id: int
    name: str
    brand: str
    counter: str
    score: float


@dataclass(frozen=True)
class StaffBoard:
    metric: str
    period: str
    scope: str
    scope_id: object
    rows: list[StaffRow]
    listed: int  # guides on the board the viewer may see
    size: int  # guides on the board


def board_top(*, metric: str, period: str, scope: str, scope_id, limit: int = STAFF_TOP, brand_id: int | None = None,
              moment: dt.datetime | None = None) -> StaffBoard:
    """The top ``limit`` of a board for mall ops and brand managers.

    With ``brand_id`` (a brand manager) only that brand's guides are listed, each with their place on the whole
    board (e.g. 3rd of the store's 40 guides): no other brand's guide, name or score is read out of the board.
    """
    _check(metric, period, scope)
    key = board_key(metric, period, moment or timezone.now(), scope, scope_id)
    client = redis_client()
    if brand_id is None or (scope == "brand" and str(scope_id) == str(brand_id)):
        pipe = client.pipeline(transaction=False)
        pipe.zrevrange(key, 0, limit - 1, withscores=True)
        pipe.zcard(key)
        head, size = pipe.execute()
        placed = [(index + 1, int(member), score) for index, (member, score) in enumerate(head)]
        listed = size
    else:  # the brand's guides only, each by its score and its rank on the whole board
        ids = list(Guide.objects.filter(brand_id=brand_id).values_list("pk", flat=True))
        scores = client.zmscore(key, ids) if ids else []
        mine = sorted(((score, pk) for pk, score in zip(ids, scores, strict=True) if score is not None), reverse=True)
        pipe = client.pipeline(transaction=False)
        for _score, pk in mine[:limit]:
            pipe.zrevrank(key, pk)
        pipe.zcard(key)
        *ranks, size = pipe.execute()
        placed = sorted((rank + 1, pk, score) for rank, (score, pk) in zip(ranks, mine[:limit], strict=True))
        listed = len(mine)
    guides = Guide.objects.filter(pk__in=[pk for _, pk, _ in placed]).select_related("brand", "counter")
    if brand_id is not None:
        guides = guides.filter(brand_id=brand_id)  # a board is a cache: never name a guide of another brand
    known = {guide.pk: guide for guide in guides}
    rows = [StaffRow(rank=rank, guide_id=pk, name=known[pk].name, brand=known[pk].brand.name,
                     counter=known[pk].counter.name if known[pk].counter_id else "—", score=score)
            for rank, pk, score in placed if pk in known]
    return StaffBoard(metric, period, scope, scope_id, rows, listed, size)


def score_text(metric: str, score: float) -> str:
    return f"¥{int(score) / 100:,.2f}" if metric == "sales" else f"{int(score):,}"
