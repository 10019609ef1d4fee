"""Handover Celery tasks. Each takes ids (and the brand schema), re-reads state and is safe to run twice:
customers are claimed in the database before WeCom is called, so a repeated or concurrent run never
submits a customer twice (see services)."""

from __future__ import annotations

import logging

from celery import shared_task
from django_tenants.utils import schema_context

from wecom.client import WeComError

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="handover.start", ignore_result=True, acks_late=True)
def handover_start(guide_id: int, source: str) -> int | None:
    """Open the resigned guide's handover in their brand's schema and run the first pass."""
    from guides.models import Guide

    guide = Guide.objects.select_related("brand", "counter").filter(pk=guide_id).first()
    if guide is None or guide.is_active:
        return None
    with schema_context(guide.brand.schema_name):
        handover = services.handover_start(guide=guide, source=source)
    handover_run.delay(guide.brand.schema_name, handover.pk)
    return handover.pk


@shared_task(name="handover.run", bind=True, ignore_result=True, acks_late=True, max_retries=8)
def handover_run(self, schema: str, handover_id: int) -> str:
    """Poll, submit, move groups. On 45009/45033 the chunk was put back; retry after the back-off
    (the retry re-reads everything, so it cannot duplicate a transfer)."""
    with schema_context(schema):
        try:
            return services.handover_run(handover_id=handover_id)
        except services.RateLimitedLater as exc:
            raise self.retry(exc=exc, countdown=exc.countdown) from exc
        except WeComError as exc:
            # WeCom unreachable or refusing the whole call: nothing is lost (rows say where we are);
            # the sweep runs the next pass
            logger.warning("handover.run_failed", extra={"tenant": schema, "handover_id": handover_id,
                                                          "errcode": exc.errcode})
            return "error"


@shared_task(name="handover.sweep", ignore_result=True)
def handover_sweep() -> int:
    """Every open handover of every brand gets a pass; resigned guides whose start was lost get one."""
    from guides.models import Guide, GuideStatus
    from tenants.models import Brand

    from .models import Handover, HandoverKind

    queued = 0
    for brand in Brand.objects.exclude(schema_name="public").order_by("pk"):
        with schema_context(brand.schema_name):
            started = set(Handover.objects.filter(kind=HandoverKind.RESIGNED).values_list("guide_id", flat=True))
            open_ids = services.handovers_open_ids()
        for guide_id in Guide.objects.filter(brand=brand, status=GuideStatus.RESIGNED).exclude(
                pk__in=started).values_list("pk", flat=True):
            handover_start.delay(guide_id, "sweep")
            queued += 1
        for handover_id in open_ids:
            handover_run.delay(brand.schema_name, handover_id)
            queued += 1
    return queued


@shared_task(name="handover.unassigned_reconcile", ignore_result=True)
def handover_unassigned_reconcile() -> dict:
    """Nightly: WeCom's list of resigned members' customers (get_unassigned_list, cursor mode)."""
    return services.unassigned_reconcile()
