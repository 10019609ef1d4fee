"""Completing tasks automatically where the platform has evidence (自动核验), set-based, in the brand schema.

- welcome (day 0): the WeCom welcome message (欢迎语) from this guide to this customer was sent;
- a task that carries a coupon: this guide issued that coupon to the customer after the task was issued;
- coupon expiring / viewed-not-used: the coupon was used (redeemed);
- welcome / group invite (day 0) is also done when the customer joined one of this guide's customer groups
  (入群) after the task was issued (a customer added without a WelcomeCode still gets the task completed);
- dormant (沉睡唤醒): the customer bought again (a paid, not fully refunded order in this brand) after the task
  was issued, whichever guide the order is attributed to: the customer is awake;
- other tasks are confirmed by the guide.
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


STATEMENTS["group_joined"] = f"""
    UPDATE tasks_guidetask t SET {_DONE}, completed_by = 'auto:group_joined',
           evidence = jsonb_build_object('chat_id', g.chat_id, 'joined_at', m.join_time)
      FROM brandguides_customergroupmember m
      JOIN brandguides_customergroup g ON g.id = m.group_id
     WHERE t.state = 'open' AND t.task_type = 'welcome'
       AND g.owner_id = t.guide_id AND m.member_id = t.member_id AND m.left_at IS NULL
       AND m.join_time >= (t.issued_on - 7)::timestamp AT TIME ZONE %(tz)s
"""
STATEMENTS["bought_again"] = f"""
    UPDATE tasks_guidetask t SET {_DONE}, completed_by = 'auto:order',
           evidence = jsonb_build_object('order_id', o.order_id, 'paid_at', o.paid_at)
      FROM brandincentives_order o
     WHERE t.state = 'open' AND t.task_type = 'dormant'
       AND o.member_id = t.member_id AND o.refunded_cents < o.amount_cents
       AND o.paid_at >= (t.issued_on)::timestamp AT TIME ZONE %(tz)s
"""


def tasks_complete_from_evidence(*, cursor, tz: str) -> int:
    """Complete every open task of the current brand whose evidence exists. Returns how many."""
    done = 0
    for sql in STATEMENTS.values():
        cursor.execute(sql, {"tz": tz})
        done += cursor.rowcount
    return done
