"""Celery jobs of campaign tasks (活动任务). Each takes ids, re-reads state and is safe to run twice; the two
periodic ones are dispatchers that enqueue one job per campaign (schedules in scrm/schedules.py)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from wecom.client import RateLimited


@shared_task(name="campaigns.notify", ignore_result=True, autoretry_for=(RateLimited,), retry_backoff=30,
             max_retries=5)
def campaign_notify(campaign_id: int) -> int:
    """The WeCom app messages announcing a published campaign. A blind retry messages nobody twice: chunks
    already written are skipped, and only rate-limited ones are sent again (see services.campaign_notify)."""
    from .services import campaign_notify as notify

    return notify(campaign_id=campaign_id)


@shared_task(name="campaigns.progress_refresh", ignore_result=True)
def campaign_progress_refresh(campaign_id: int) -> int:
    from .services import campaign_progress_refresh as refresh

    return refresh(campaign_id=campaign_id)


@shared_task(name="campaigns.settle", ignore_result=True)
def campaign_settle(campaign_id: int) -> bool:
    from .services import campaign_settle as settle

    return settle(campaign_id=campaign_id).settled


@shared_task(name="campaigns.live_dispatch", ignore_result=True)
def campaigns_live_dispatch() -> int:
    """Every running campaign: measure its claims again, and announce it to guides not messaged yet (new
    hires, or every guide when the enqueue after publishing was lost). Returns the campaigns looked at."""
    from .models import Campaign, CampaignState
    from .services import SETTLE_GRACE

    now = timezone.now()
    live = list(Campaign.objects.filter(state=CampaignState.PUBLISHED, starts_at__lte=now,
                                        ends_at__gt=now - SETTLE_GRACE).values_list("pk", flat=True))
    for campaign_id in live:
        campaign_progress_refresh.delay(campaign_id)
    for campaign_id in Campaign.objects.filter(state=CampaignState.PUBLISHED, ends_at__gt=now).values_list(
            "pk", flat=True):
        campaign_notify.delay(campaign_id)
    return len(live)


@shared_task(name="campaigns.settle_due", ignore_result=True)
def campaigns_settle_due() -> int:
    """Enqueue the settlement of every published campaign that ended (plus the grace for late orders)."""
    from .models import Campaign, CampaignState
    from .services import SETTLE_GRACE

    due = list(Campaign.objects.filter(state=CampaignState.PUBLISHED, ends_at__lte=timezone.now() - SETTLE_GRACE)
               .order_by("ends_at").values_list("pk", flat=True))
    for campaign_id in due:
        campaign_settle.delay(campaign_id)
    return len(due)
