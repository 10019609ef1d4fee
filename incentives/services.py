"""Writes for guide incentives. The ledger is the record; balances follow it in the same statement."""

from __future__ import annotations

import logging

from django.db import connection, transaction

from scrm.errors import AppError

from .models import GuideBalance, RewardEntry

log = logging.getLogger(__name__)

# One statement: the entry goes in unless this guide already has one for the source event (the
# unique index makes a concurrent duplicate wait and then do nothing), and only an inserted entry
# moves the balance. Both happen or neither does.
_CREDIT_SQL = """
WITH entry AS (
    INSERT INTO incentives_rewardentry (guide_id, coins, exp, source, source_id, note, created_at)
    VALUES (%(guide_id)s, %(coins)s, %(exp)s, %(source)s, %(source_id)s, %(note)s, now())
    ON CONFLICT (guide_id, source, source_id) DO NOTHING
    RETURNING guide_id, coins, exp
), balance AS (
    INSERT INTO incentives_guidebalance (guide_id, coins, exp, updated_at)
    SELECT guide_id, coins, exp, now() FROM entry
    ON CONFLICT (guide_id) DO UPDATE
        SET coins = incentives_guidebalance.coins + EXCLUDED.coins,
            exp = incentives_guidebalance.exp + EXCLUDED.exp,
            updated_at = EXCLUDED.updated_at
    RETURNING guide_id
)
SELECT count(*) FROM entry
"""


def _check(*, guide_id, coins, exp, source: str, source_id: str, note: str) -> dict:
    fields = {}
    for name, value in (("guide_id", guide_id), ("coins", coins), ("exp", exp)):
        if not isinstance(value, int) or isinstance(value, bool):
            fields[name] = ["Must be a whole number. 须为整数。"]
    if not fields and coins == 0 and exp == 0:
        fields["coins"] = ["Coins or experience must be non-zero. 金币与经验不能都为0。"]
    if not isinstance(source, str) or not 1 <= len(source.strip()) <= 40:
        fields["source"] = ["1-40 characters. 1-40个字符。"]
    source_id = str(source_id) if isinstance(source_id, int) and not isinstance(source_id, bool) else source_id
    if not isinstance(source_id, str) or not 1 <= len(source_id.strip()) <= 120:
        fields["source_id"] = ["1-120 characters. 1-120个字符。"]
    if fields:
        raise AppError("Invalid reward credit. 金币/经验入账参数无效。", code="invalid_reward", fields=fields)
    return {"guide_id": guide_id, "coins": coins, "exp": exp, "source": source.strip(),
            "source_id": source_id.strip(), "note": (note or "")[:200]}


def reward_credit(*, guide_id: int, coins: int, exp: int, source: str, source_id: str, note: str = "") -> bool:
    """Credit (or, with negative amounts, reverse) a guide's coins and experience for one source event.

    Returns True if credited, False if this guide already has an entry for ``(source, source_id)``.
    Safe under concurrency (INSERT ... ON CONFLICT DO NOTHING) and inside a caller's transaction:
    the entry and the balance commit or roll back with it. Callable from any schema (public tables).
    """
    params = _check(guide_id=guide_id, coins=coins, exp=exp, source=source, source_id=source_id, note=note)
    from guides.models import Guide

    if not Guide.objects.filter(pk=params["guide_id"]).exists():
        raise AppError("No such guide. 导购不存在。", code="guide_not_found", status=404,
                       fields={"guide_id": ["Unknown guide."]})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CREDIT_SQL, params)
        credited = cursor.fetchone()[0] == 1
    if credited:
        log.info("incentives.reward_credited", extra={"guide_id": params["guide_id"], "source": params["source"],
                                                      "coins": params["coins"], "exp": params["exp"]})
        _after_credit(params)
    return credited


_credit_listeners: list = []


def on_reward_credited(listener) -> None:
    """Register ``listener(params)`` run after commit of each credited entry (leaderboards use it)."""
    _credit_listeners.append(listener)


def _after_credit(params: dict) -> None:
    for listener in _credit_listeners:
        transaction.on_commit(lambda listener=listener: listener(dict(params)))


def balances_rebuild(*, guide_ids: list[int] | None = None) -> int:
    """Recompute balances from the ledger in two set-based statements (the ledger is the record).

    Guides with a balance row but no entries go back to zero. Returns the number of guides whose
    stored balance was wrong and has been corrected.
    """
    only = "" if guide_ids is None else "AND guide_id = ANY(%(ids)s)"
    params = {"ids": list(guide_ids or [])}
    with transaction.atomic(), connection.cursor() as cursor:
        # a credit committing mid-rebuild would otherwise be overwritten by a stale sum
        cursor.execute("LOCK TABLE incentives_guidebalance IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            f"""
            WITH sums AS (
                SELECT guide_id, SUM(coins)::int AS coins, SUM(exp)::int AS exp
                FROM incentives_rewardentry WHERE TRUE {only} GROUP BY guide_id
            ), target AS (
                SELECT COALESCE(s.guide_id, b.guide_id) AS guide_id,
                       COALESCE(s.coins, 0) AS coins, COALESCE(s.exp, 0) AS exp
                FROM sums s FULL JOIN (SELECT guide_id FROM incentives_guidebalance WHERE TRUE {only}) b
                     ON b.guide_id = s.guide_id
            )
            INSERT INTO incentives_guidebalance (guide_id, coins, exp, updated_at)
            SELECT guide_id, coins, exp, now() FROM target
            ON CONFLICT (guide_id) DO UPDATE SET coins = EXCLUDED.coins, exp = EXCLUDED.exp,
                                                 updated_at = EXCLUDED.updated_at
            WHERE (incentives_guidebalance.coins, incentives_guidebalance.exp)
                  IS DISTINCT FROM (EXCLUDED.coins, EXCLUDED.exp)
            """,
            params,
        )
        return cursor.rowcount


__all__ = ["GuideBalance", "RewardEntry", "balances_rebuild", "on_reward_credited", "reward_credit"]
