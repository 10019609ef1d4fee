"""Completing tasks automatically where the platform has evidence (自动核验), set-based, in the brand schema.

- welcome (day 0): the WeCom welcome message (欢迎语) from this guide to this customer was sent;
- a task that carries a coupon: this guide issued that coupon to the customer after the task was issued;
- coupon expiring / viewed-not-used: the coupon was used (redeemed);
- group invite (welcome) is evidenced by the welcome message alone; other tasks are confirmed by the guide.
Each statement only touches open tasks, so a task is completed once and its evidence never rewritten.
"""

from __future__ import annotations

_DONE = "state = 'done', completed_at = now()"

STATEMENTS = {
    "welcome": f"""
        UPDATE tasks_guidetask t SET {_DONE}, completed_by = 'auto:welcome',
               evidence = jsonb_build_object('welcome_delivery_id', w.id, 'sent_at', w.sent_at)
          FROM wecom_welcomedelivery w
         WHERE t.state = 'open' AND t.task_type = 'welcome'
           AND w.guide_id = t.guide_id AND w.member_id = t.member_id AND w.status = 'sent'
           AND w.created_at >= (t.issued_on - 7)::timestamp AT TIME ZONE %(tz)s
    """,
    "brand_coupon_sent": f"""
        UPDATE tasks_guidetask t SET {_DONE}, completed_by = 'auto:coupon_sent',
               evidence = jsonb_build_object('coupon', c.code, 'issued_at', c.issued_at)
          FROM brandmembers_brandcoupon c
         WHERE t.state = 'open' AND t.brand_coupon_template_id IS NOT NULL AND t.source = 'lifecycle'
           AND c.template_id = t.brand_coupon_template_id AND c.member_id = t.member_id
           AND c.issued_by_guide_id = t.guide_id
           AND c.issued_at >= (t.issued_on)::timestamp AT TIME ZONE %(tz)s
    """,
    "mall_coupon_sent": f"""
        UPDATE tasks_guidetask t SET {_DONE}, completed_by = 'auto:coupon_sent',
               evidence = jsonb_build_object('coupon', c.code, 'issued_at', c.issued_at)
          FROM members_coupon c
         WHERE t.state = 'open' AND t.mall_coupon_template_id IS NOT NULL
           AND c.template_id = t.mall_coupon_template_id AND c.member_id = t.member_id
           AND c.issued_by_guide_id = t.guide_id
           AND c.issued_at >= (t.issued_on)::timestamp AT TIME ZONE %(tz)s
    """,
    "coupon_used": f"""
        UPDATE tasks_guidetask t SET {_DONE}, completed_by = 'auto:coupon_used',
               evidence = jsonb_build_object('coupon', c.code, 'redeemed_at', c.redeemed_at)
          FROM brandmembers_brandcoupon c
         WHERE t.state = 'open' AND t.source = 'trigger'
           AND t.trigger_kind IN ('coupon_expiring', 'coupon_viewed_unused')
           AND c.code = t.period AND c.member_id = t.member_id AND c.state = 'redeemed'
    """,
}


def tasks_complete_from_evidence(*, cursor, tz: str) -> int:
    """Complete every open task of the current brand whose evidence exists. Returns how many."""
    done = 0
    for sql in STATEMENTS.values():
        cursor.execute(sql, {"tz": tz})
        done += cursor.rowcount
    return done
