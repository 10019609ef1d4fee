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

# Each kind of evidence: the open tasks it completes, how (completed_by) and the evidence kept. In this order: a
# task with evidence of two kinds is completed by the first (a welcome task both welcomed and in a group: welcome).
MATCHES = {
    "welcome": """
        SELECT t.id AS task_id, 'auto:welcome' AS completed_by,
               jsonb_build_object('welcome_delivery_id', w.id, 'sent_at', w.sent_at) AS evidence
          FROM tasks_guidetask t
          JOIN wecom_welcomedelivery w
            ON w.guide_id = t.guide_id AND w.member_id = t.member_id AND w.status = 'sent'
           AND w.created_at >= (t.issued_on - 7)::timestamp AT TIME ZONE %(tz)s
         WHERE t.state = 'open' AND t.task_type = 'welcome'
    """,
    "brand_coupon_sent": """
        SELECT t.id, 'auto:coupon_sent', jsonb_build_object('coupon', c.code, 'issued_at', c.issued_at)
          FROM tasks_guidetask t
          JOIN brandmembers_brandcoupon c
            ON c.template_id = t.brand_coupon_template_id AND c.member_id = t.member_id
           AND c.issued_by_guide_id = t.guide_id
           AND c.issued_at >= (t.issued_on)::timestamp AT TIME ZONE %(tz)s
         WHERE t.state = 'open' AND t.brand_coupon_template_id IS NOT NULL AND t.source = 'lifecycle'
    """,
    "mall_coupon_sent": """
        SELECT t.id, 'auto:coupon_sent', jsonb_build_object('coupon', c.code, 'issued_at', c.issued_at)
          FROM tasks_guidetask t
          JOIN members_coupon c
            ON c.template_id = t.mall_coupon_template_id AND c.member_id = t.member_id
           AND c.issued_by_guide_id = t.guide_id
           AND c.issued_at >= (t.issued_on)::timestamp AT TIME ZONE %(tz)s
         WHERE t.state = 'open' AND t.mall_coupon_template_id IS NOT NULL
    """,
    "coupon_used": """
        SELECT t.id, 'auto:coupon_used', jsonb_build_object('coupon', c.code, 'redeemed_at', c.redeemed_at)
          FROM tasks_guidetask t
          JOIN brandmembers_brandcoupon c
            ON c.code = t.period AND c.member_id = t.member_id AND c.state = 'redeemed'
         WHERE t.state = 'open' AND t.source = 'trigger'
           AND t.trigger_kind IN ('coupon_expiring', 'coupon_viewed_unused')
    """,
    "group_joined": """
        SELECT t.id, 'auto:group_joined', jsonb_build_object('chat_id', g.chat_id, 'joined_at', m.join_time)
          FROM tasks_guidetask t
          JOIN brandguides_customergroupmember m
            ON m.member_id = t.member_id AND m.left_at IS NULL
           AND m.join_time >= (t.issued_on - 7)::timestamp AT TIME ZONE %(tz)s
          JOIN brandguides_customergroup g ON g.id = m.group_id AND g.owner_id = t.guide_id
         WHERE t.state = 'open' AND t.task_type = 'welcome'
    """,
    "bought_again": """
        SELECT t.id, 'auto:order', jsonb_build_object('order_id', o.order_id, 'paid_at', o.paid_at)
          FROM tasks_guidetask t
          JOIN brandincentives_order o
            ON o.member_id = t.member_id AND o.refunded_cents < o.amount_cents
           AND o.paid_at >= (t.issued_on)::timestamp AT TIME ZONE %(tz)s
         WHERE t.state = 'open' AND t.task_type = 'dormant'
    """,
}

# All kinds in one statement (one plan and one pass over the tasks' indexes instead of six, in every brand on
# every run); each task takes the first kind in MATCHES that has evidence for it.
_COMPLETE = """
UPDATE tasks_guidetask t SET state = 'done', completed_at = now(), completed_by = c.completed_by,
       evidence = c.evidence
  FROM (SELECT DISTINCT ON (m.task_id) m.task_id, m.completed_by, m.evidence
          FROM ({matches}) m
         ORDER BY m.task_id, m.rank) c
 WHERE t.id = c.task_id AND t.state = 'open'
"""


def tasks_complete_from_evidence(*, cursor, tz: str) -> int:
    """Complete every open task of the current brand whose evidence exists. Returns how many."""
    matches = " UNION ALL ".join(f"SELECT {rank} AS rank, x.* FROM ({sql}) x"
                                 for rank, sql in enumerate(MATCHES.values()))
    cursor.execute(_COMPLETE.format(matches=matches), {"tz": tz})
    return cursor.rowcount
