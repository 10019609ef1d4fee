"""Celery jobs of the newbie checklist. Each takes ids, re-reads everything and is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from guides.models import Guide, GuideStatus
from tenants.models import BrandStatus

from . import services


@shared_task(name="newbie.refresh_guides", ignore_result=True, acks_late=True,
             autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def refresh_guides(guide_ids: list[int]) -> int:
    """After a customer add, a share link or a task done: these guides' checklists, one refresh per brand.
    A blind retry is safe: the refresh is idempotent and each reward is credited once."""
    by_schema: dict[str, list[int]] = {}
    for schema, guide_id in (Guide.objects.filter(pk__in=guide_ids, brand__status=BrandStatus.ACTIVE)
                             .values_list("brand__schema_name", "pk")):
        by_schema.setdefault(schema, []).append(guide_id)
    return sum(services.newbie_refresh(brand=schema, guide_ids=ids).done for schema, ids in by_schema.items())


@shared_task(name="newbie.dispatch", ignore_result=True)
def dispatch(moments: bool = False) -> int:
    """Catch-up (and, with ``moments``, the nightly WeCom Moment check): one job per active brand that has
    newbies at all, so the cost follows the number of new guides, not of brands or guides."""
    schemas = list(Guide.objects.filter(status=GuideStatus.ACTIVE, hired_on__gte=services.newbie_since(),
                                        brand__status=BrandStatus.ACTIVE)
                   .order_by().values_list("brand__schema_name", flat=True).distinct())
    for schema in schemas:
        refresh_brand.delay(schema, moments)
    return len(schemas)


@shared_task(name="newbie.refresh_brand", bind=True, ignore_result=True, acks_late=True, max_retries=6)
def refresh_brand(self, schema: str, moments: bool = False) -> int:
    """Every newbie of one brand: progress from evidence, then (nightly) one get_moment_list per guide whose
    Moment step is open. A retry repeats only reads and idempotent writes; on a WeCom rate limit the job
    comes back later and skips the guides already done."""
    from wecom.client import RateLimited

    done = services.newbie_refresh(brand=schema).done
    if moments:
        try:
            done += services.newbie_moments_check(brand=schema)
        except RateLimited as exc:
            raise self.retry(exc=exc, countdown=300) from exc
    return done
