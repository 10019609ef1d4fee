"""Celery tasks for the WeCom full sync, the nightly reconcile and the live-code statistics.

Each takes ids (or nothing), re-reads state and is safe to run twice: a sync run is claimed with a
lease and commits its cursor with every page, so a second delivery finds it held, finished, or
continues where the first stopped. The sync only reads from WeCom; no call has a side effect a
blind retry could duplicate.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django_tenants.utils import get_tenant_model, schema_context

logger = logging.getLogger(__name__)


@shared_task(name="wecom.sync_run", bind=True, ignore_result=True, max_retries=50, acks_late=True)
def sync_run(self, run_id: int) -> str:
    """Run or continue one SyncRun. Rate limited (45009/45033) -> retried after the run's back-off."""
    from django.utils import timezone

    from .client import RateLimited
    from .models import SyncRun
    from .sync import RunHeld, sync_execute

    try:
        run = sync_execute(run_id, wait_on_rate_limit=False)
    except RunHeld:
        return "held"
    except RateLimited as exc:
        run = SyncRun.objects.get(pk=run_id)
        countdown = max(5, int((run.resume_at - timezone.now()).total_seconds())) if run.resume_at else 60
        raise self.retry(exc=exc, countdown=countdown) from exc
    return run.status


@shared_task(name="wecom.reconcile_nightly", ignore_result=True)
def reconcile_nightly() -> int:
    """Start tonight's reconcile (or continue an unfinished one) and hand it to a worker."""
    from .models import SyncKind
    from .sync import sync_start, sync_unfinished

    run = sync_unfinished(kind=SyncKind.RECONCILE) or sync_start(kind=SyncKind.RECONCILE)
    transaction.on_commit(lambda: sync_run.delay(run.pk))
    return run.pk


@shared_task(name="wecom.sync_resume_stalled", ignore_result=True)
def sync_resume_stalled() -> int:
    """Continue runs whose back-off is over or whose worker died (lease expired); failed runs wait for ops."""
    from django.db.models import Q
    from django.utils import timezone

    from .models import SyncRun, SyncStatus

    now = timezone.now()
    ids = list(SyncRun.objects.filter(
        Q(status=SyncStatus.WAITING, resume_at__lte=now)
        | Q(status=SyncStatus.RUNNING, locked_until__lt=now)).values_list("id", flat=True)[:20])
    for run_id in ids:
        transaction.on_commit(lambda run_id=run_id: sync_run.delay(run_id))
    return len(ids)


@shared_task(name="wecom.channel_stats_refresh", ignore_result=True)
def channel_stats_refresh() -> int:
    """Fan out: one job per brand schema snapshots its channel statistics."""
    schemas = list(get_tenant_model().objects.values_list("schema_name", flat=True))
    for schema in schemas:
        with schema_context(schema):
            brand_channel_stats_refresh.delay()
    return len(schemas)


@shared_task(name="wecom.brand_channel_stats_refresh", ignore_result=True)
def brand_channel_stats_refresh(days: int = 2) -> int:
    """Runs in the brand schema stamped on the task; one INSERT ... SELECT, re-runnable."""
    from .livecodes import channel_stats_refresh as refresh

    return refresh(days=days)
