"""Per-share summaries to the guide by WeCom app message (应用消息), at most one per share per window.

The first change to a share in a window (default 10 minutes) schedules one summary for the end of
the window, so a burst of opens and orders becomes one message with the numbers at that moment
("80 opened, 50 liked, 30 added to cart, 10 bought, ¥3,000, commission ¥300"). A summary whose
numbers equal the last one sent is not sent again.
"""

from __future__ import annotations

import logging

from django.conf import settings

from .feed import redis_client, script

log = logging.getLogger(__name__)

WINDOW_SECONDS = 600


# SET NX EX for every share of a batch in one command; returns the (1-based) positions this call acquired.
_ACQUIRE = """
local won = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], 1, 'NX', 'EX', ARGV[1]) then won[#won + 1] = i end
end
return won
"""


def _window_key(link_id: int) -> str:
    return f"scrm:share-msg:win:{link_id}"


def _last_key(link_id: int) -> str:
    return f"scrm:share-msg:last:{link_id}"


def summaries_schedule(*, link_ids) -> int:
    """Schedule the end-of-window summary of each share that has none pending. Returns how many."""
    from .tasks import share_summaries_send

    link_ids = sorted(set(link_ids))
    if not link_ids:
        return 0
    window = int(getattr(settings, "SHARE_SUMMARY_WINDOW_SECONDS", WINDOW_SECONDS))
    try:
        client = redis_client()
        won = script(client, _ACQUIRE)(keys=[_window_key(link_id) for link_id in link_ids], args=[window])
        acquired = [link_ids[index - 1] for index in won]
    except Exception:  # no Redis, no summary: the sidebar feed still has every number
        log.warning("incentives.summary_schedule_failed", exc_info=True)
        return 0
    if acquired:
        try:  # one task for the whole batch: a broker round trip per share would cost more than the events
            share_summaries_send.apply_async((acquired,), countdown=window)
        except Exception:  # never let the message break the event that asked for it (eager mode runs it here)
            log.warning("incentives.summary_enqueue_failed", extra={"links": len(acquired)}, exc_info=True)
    return len(acquired)


def summary_text(link) -> str:
    return (f"【分享战报】{link.title}：{link.opened} 人打开，{link.liked} 人点赞，{link.carted} 人加购，"
            f"{link.bought} 单成交，销售额 ¥{link.sales_cents / 100:,.2f}，佣金 ¥{link.commission_cents / 100:,.2f}。"
            f"\n{link.title}: {link.opened} opened, {link.liked} liked, {link.carted} added to cart, "
            f"{link.bought} bought, ¥{link.sales_cents / 100:,.2f} sales, ¥{link.commission_cents / 100:,.2f} commission.")


def share_summary_send(*, link_id: int) -> bool:
    """Send the share's current numbers to its guide unless they equal the last summary. True if sent.

    Not blind-retry safe in one corner: if WeCom accepted the message and recording it failed, a retry
    sends the same numbers again.
    """
    from guides.models import GuideStatus
    from wecom.client import mall_client

    from .models import ShareLink

    link = ShareLink.objects.select_related("guide").filter(pk=link_id).first()
    if link is None or link.guide.status != GuideStatus.ACTIVE:
        return False
    text = summary_text(link)
    client = redis_client()
    if (client.get(_last_key(link_id)) or b"").decode() == text:
        return False
    mall_client(agent=True).message.send_text(settings.WECOM_AGENT_ID, [link.guide.wecom_userid], text)
    client.set(_last_key(link_id), text, ex=30 * 86400)
    log.info("incentives.share_summary_sent", extra={"guide_id": link.guide_id, "link_id": link_id})
    return True
