"""Event triggers (事件触发): birthday, tier upgrade, points or coupon expiring, coupon viewed but not used,
dormant customer, N days in a customer group. Each is one INSERT ... SELECT ... ON CONFLICT DO NOTHING.

Every trigger query yields events (member, period, event day, optional due cap) in the window
[day - due window + 1, day] of its TriggerConfig, so a missed night is caught up (issued ``late``) and a
re-run creates nothing. The task goes to the guide who has served the member longest among the brand's
active relationships. ``period`` makes an occurrence unique: the birthday's year, the tier change's id,
the coupon's code, the month the points expire, the date of the last activity, the group's chat id.
"""

from __future__ import annotations

import datetime as dt

from .models import TriggerConfig, TriggerKind

TASK_TYPE = {
    TriggerKind.BIRTHDAY: "birthday",
    TriggerKind.TIER_UPGRADE: "tier_upgrade",
    TriggerKind.POINTS_EXPIRING: "points_expiring",
    TriggerKind.COUPON_EXPIRING: "coupon_expiring",
    TriggerKind.COUPON_VIEWED_UNUSED: "coupon_reminder",
    TriggerKind.DORMANT: "dormant",
    TriggerKind.GROUP_100_DAYS: "group_anniversary",
}

# ``%(first)s`` is the window's first day, ``%(day)s`` the run's day; both Shanghai dates.
_START = "(%(first)s::date)::timestamp AT TIME ZONE %(tz)s"
_END = "(%(day)s::date + 1)::timestamp AT TIME ZONE %(tz)s"
# A same-day re-run (every 10 minutes, scrm/schedules.py) looks only at the members of relationships added since
# the last run for the triggers whose events lie in the past (a birthday, a last activity N days ago): for
# everyone else the last run of the day already looked at the same window. (A birthday recorded during the day
# for a reminder day already passed is issued, late, by the next night's run, which reads the whole window.)
_NEW_MEMBERS = """(SELECT r.member_id FROM brandguides_relationship r
                    WHERE r.status = 'active' AND (r.added_at >= %(since)s OR r.id > %(seen_id)s))"""
# A dormant reminder due in [first, day] means a last activity in [first - N, day - N] (N days of silence).
_DORMANT_START = "(%(first)s::date - %(n)s)::timestamp AT TIME ZONE %(tz)s"
_DORMANT_END = "(%(day)s::date + 1 - %(n)s)::timestamp AT TIME ZONE %(tz)s"

EVENTS = {
    # the birthday B (this or next year) whose reminder day B - N falls in the window; keys are month*100+day
    TriggerKind.BIRTHDAY: f"""
        SELECT m.id AS member_id, to_char(b.bday, 'YYYY') AS period, b.issue_day AS event_day, b.bday AS due_cap
          FROM unnest(%(bday_keys)s::int[], %(bday_dates)s::date[], %(bday_issue)s::date[])
               AS b(mmdd, bday, issue_day)
          JOIN members_member m
            ON (EXTRACT(MONTH FROM m.birthday) * 100 + EXTRACT(DAY FROM m.birthday))::int = b.mmdd
           AND m.birthday IS NOT NULL
         WHERE %(all_members)s OR m.id IN {_NEW_MEMBERS}
    """,
    TriggerKind.TIER_UPGRADE: f"""
        SELECT tc.member_id, tc.id::text AS period, (tc.at AT TIME ZONE %(tz)s)::date AS event_day,
               NULL::date AS due_cap
          FROM members_tierchange tc
         WHERE tc.is_upgrade AND tc.at >= {_START} AND tc.at < {_END}
    """,
    # one reminder per member and month of expiry, while some lot expires within N days
    TriggerKind.POINTS_EXPIRING: """
        SELECT pe.member_id, to_char(min(pe.expires_at AT TIME ZONE %(tz)s), 'YYYY-MM') AS period,
               %(day)s::date AS event_day, (min(pe.expires_at AT TIME ZONE %(tz)s))::date AS due_cap
          FROM members_pointsentry pe
         WHERE pe.remaining > 0
           AND pe.expires_at >= (%(day)s::date)::timestamp AT TIME ZONE %(tz)s
           AND pe.expires_at < (%(day)s::date + %(n)s + 1)::timestamp AT TIME ZONE %(tz)s
         GROUP BY pe.member_id
    """,
    TriggerKind.COUPON_EXPIRING: """
        SELECT c.member_id, c.code AS period, %(day)s::date AS event_day,
               (c.valid_until AT TIME ZONE %(tz)s)::date AS due_cap
          FROM brandmembers_brandcoupon c
         WHERE c.state IN ('issued', 'viewed')
           AND c.valid_until >= (%(day)s::date)::timestamp AT TIME ZONE %(tz)s
           AND c.valid_until < (%(day)s::date + %(n)s + 1)::timestamp AT TIME ZONE %(tz)s
    """,
    # the funnel issued -> viewed -> used: looked N hours ago and still not used
    TriggerKind.COUPON_VIEWED_UNUSED: f"""
        SELECT c.member_id, c.code AS period,
               ((c.viewed_at + make_interval(hours => %(n)s)) AT TIME ZONE %(tz)s)::date AS event_day,
               (c.valid_until AT TIME ZONE %(tz)s)::date AS due_cap
          FROM brandmembers_brandcoupon c
         WHERE c.state = 'viewed'
           AND c.viewed_at + make_interval(hours => %(n)s) >= {_START}
           AND c.viewed_at + make_interval(hours => %(n)s) < {_END}
           AND c.valid_until > (%(day)s::date)::timestamp AT TIME ZONE %(tz)s
    """,
    # last activity: the add, a task done, points earned at this brand or a brand coupon used. Only a member with
    # some activity in [first - N, day - N] can have their last activity there: they are found through indexes on
    # those timestamps (tasks 0005, tasks_mall 0005), so the cost follows a week of activity, not the members.
    # Each member's own max() has a GROUP BY so the planner cannot answer it by walking one of those timestamp
    # indexes backwards until the member turns up (PostgreSQL's min/max shortcut): it looks the member up.
    TriggerKind.DORMANT: f"""
        SELECT s.member_id, to_char(s.last_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD') AS period,
               (s.last_at AT TIME ZONE %(tz)s)::date + %(n)s AS event_day, NULL::date AS due_cap
          FROM (
            SELECT a.member_id, GREATEST(
                       a.added_at,
                       (SELECT max(t.completed_at) FROM tasks_guidetask t
                         WHERE t.member_id = a.member_id AND t.state = 'done' GROUP BY t.member_id),
                       (SELECT max(p.created_at) FROM members_pointsentry p
                         WHERE p.member_id = a.member_id AND p.kind = 'earn' AND p.brand_id = %(brand_id)s
                         GROUP BY p.member_id),
                       (SELECT max(bc.redeemed_at) FROM brandmembers_brandcoupon bc
                         WHERE bc.member_id = a.member_id GROUP BY bc.member_id)) AS last_at
              FROM (
                SELECT c.member_id, (SELECT max(r.added_at) FROM brandguides_relationship r
                                      WHERE r.member_id = c.member_id AND r.status = 'active'
                                        AND r.added_at < {_DORMANT_END} GROUP BY r.member_id) AS added_at
                  FROM (
                    SELECT r.member_id FROM brandguides_relationship r
                     WHERE r.status = 'active' AND r.added_at >= {_DORMANT_START} AND r.added_at < {_DORMANT_END}
                    UNION
                    SELECT t.member_id FROM tasks_guidetask t
                     WHERE t.state = 'done' AND t.completed_at >= {_DORMANT_START}
                       AND t.completed_at < {_DORMANT_END}
                    UNION
                    SELECT p.member_id FROM members_pointsentry p
                     WHERE p.kind = 'earn' AND p.brand_id = %(brand_id)s
                       AND p.created_at >= {_DORMANT_START} AND p.created_at < {_DORMANT_END}
                    UNION
                    SELECT bc.member_id FROM brandmembers_brandcoupon bc
                     WHERE bc.redeemed_at >= {_DORMANT_START} AND bc.redeemed_at < {_DORMANT_END}
                  ) c
                 WHERE %(all_members)s OR c.member_id IN {_NEW_MEMBERS}
                OFFSET 0
              ) a
             WHERE a.added_at IS NOT NULL
            OFFSET 0  -- a fence: each subquery above runs once per candidate, not once per use of its result
          ) s
         WHERE (s.last_at AT TIME ZONE %(tz)s)::date + %(n)s BETWEEN %(first)s::date AND %(day)s::date
    """,
    TriggerKind.GROUP_100_DAYS: """
        SELECT gm.member_id, g.chat_id AS period, (gm.join_time AT TIME ZONE %(tz)s)::date + %(n)s AS event_day,
               NULL::date AS due_cap
          FROM brandguides_customergroupmember gm
          JOIN brandguides_customergroup g ON g.id = gm.group_id AND g.status = 'normal'
         WHERE gm.type = 'external' AND gm.member_id IS NOT NULL AND gm.left_at IS NULL
           AND gm.join_time >= (%(first)s::date - %(n)s)::timestamp AT TIME ZONE %(tz)s
           AND gm.join_time < (%(day)s::date + 1 - %(n)s)::timestamp AT TIME ZONE %(tz)s
    """,
}

# on a same-day re-run these look only at the members of the adds since (_NEW_MEMBERS)
_ADDS_ONLY = {TriggerKind.BIRTHDAY, TriggerKind.DORMANT}

# One enabled trigger's events with its settings, as one branch of the INSERT below.
_BRANCH = """
    SELECT e.member_id, e.period, e.event_day, e.due_cap, %(window)s::int AS due_window, %(ref)s::text AS ref,
           %(kind)s::text AS kind, %(task_type)s::text AS task_type, %(title)s::text AS title,
           %(script)s::text AS script, %(coupon_id)s::bigint AS coupon_id, %(coins)s::int AS coins,
           %(exp)s::int AS exp
      FROM ({events}) e
"""

# Every enabled trigger in one statement (one plan, one pass over the target's indexes and its once-only key,
# where a statement per trigger paid those seven times in every brand, every run). {branches} are _BRANCH.
_INSERT = """
WITH events AS ({branches}),
placed AS (
    SELECT e.*, LEAST(e.event_day + e.due_window - 1, COALESCE(e.due_cap, 'infinity'::date)) AS due_on,
           s.id AS relationship_id, s.guide_id
      FROM events e
      CROSS JOIN LATERAL (SELECT r.id, r.guide_id FROM brandguides_relationship r
                           WHERE r.member_id = e.member_id AND r.status = 'active'
                           ORDER BY r.added_at, r.id LIMIT 1) s
     WHERE e.member_id >= COALESCE(%(lo)s, 0) AND e.member_id < COALESCE(%(hi)s, 9223372036854775807)
)
INSERT INTO tasks_guidetask (source, ref, period, guide_id, member_id, relationship_id, hq_node_id, brand_node_id,
    trigger_kind, lifecycle_day, task_type, title, script, mall_coupon_template_id, brand_coupon_template_id,
    issued_on, due_on, state, late, completed_at, completed_by, evidence, note, reward_coins, reward_exp,
    reward_credited_at, closed_at, created_at)
SELECT 'trigger', p.ref, p.period, p.guide_id, p.member_id, p.relationship_id, NULL, NULL, p.kind, NULL,
       p.task_type, p.title, p.script, NULL, p.coupon_id, %(day)s, p.due_on, 'open',
       p.event_day < %(day)s, NULL, '', '{}'::jsonb, '', p.coins, p.exp, NULL, NULL, now()
  FROM placed p
 WHERE p.event_day <= %(day)s AND p.due_on >= %(day)s
 ORDER BY p.member_id, p.ref
ON CONFLICT (source, member_id, ref, period) DO NOTHING
"""


def _birthday_keys(*, first: dt.date, day: dt.date, n: int) -> tuple[list[int], list[dt.date], list[dt.date]]:
    """For every reminder day I in [first, day], the birthday B = I + N as a month*100+day key.
    A 29 February birthday is celebrated on 28 February in other years."""
    keys, dates, issue = [], [], []
    current = first
    while current <= day:
        bday = current + dt.timedelta(days=n)
        keys.append(bday.month * 100 + bday.day)
        dates.append(bday)
        issue.append(current)
        if bday.month == 2 and bday.day == 28 and not _leap(bday.year):
            keys.append(229)
            dates.append(bday)
            issue.append(current)
        current += dt.timedelta(days=1)
    return keys, dates, issue


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def triggers_generate(*, cursor, day: dt.date, tz: str, brand_id: int, lo: int | None = None,
                      hi: int | None = None, since: dt.datetime | None = None, seen_id: int = 0,
                      adds_since: bool = True) -> int:
    """Issue the tasks of every enabled trigger for ``day`` in the current brand schema, for the members in
    [lo, hi) (None: unbounded; a large brand is generated in parts, see tasks.engine). With ``since`` (a same-day
    re-run) the birthday and dormant triggers look only at relationships added since (_NEW_MEMBERS): id above
    ``seen_id`` or added at ``since`` or later; ``adds_since`` False says there are none. Returns the count."""
    branches = []
    for config in TriggerConfig.objects.filter(is_enabled=True).order_by("kind"):
        if since is not None and not adds_since and config.kind in _ADDS_ONLY:
            continue
        first = day - dt.timedelta(days=config.due_window_days - 1)
        params = {"day": day, "first": first, "tz": tz, "n": config.offset, "brand_id": brand_id,
                  "all_members": since is None, "since": since, "seen_id": seen_id,
                  "window": config.due_window_days, "ref": f"trigger:{config.kind}", "kind": config.kind,
                  "task_type": TASK_TYPE[config.kind], "title": config.title, "script": config.script,
                  "coupon_id": config.coupon_template_id, "coins": config.reward_coins, "exp": config.reward_exp}
        if config.kind == TriggerKind.BIRTHDAY:
            keys, dates, issue = _birthday_keys(first=first, day=day, n=config.offset)
            params.update(bday_keys=keys, bday_dates=dates, bday_issue=issue)
        # each branch has its own window and settings: bound here, so the statement takes no parameters
        branches.append(cursor.mogrify(_BRANCH.format(events=EVENTS[config.kind]), params).decode())
    if not branches:
        return 0
    outer = cursor.mogrify(_INSERT, {"day": day, "lo": lo, "hi": hi}).decode()
    cursor.execute(outer.replace("{branches}", " UNION ALL ".join(branches)))
    return cursor.rowcount
