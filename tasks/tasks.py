"""Celery jobs of the task engine: a dispatcher that fans out the brands' runs.

A brand is generated in its own transaction (tasks.engine.generate). Small brands share a job (a job costs
the worker tens of milliseconds besides the brand's own work, as much as a small brand's whole run); a large
brand is split into several jobs over member id ranges (tasks.engine.split_plan), which other workers run in
parallel. Sizes are counted in relationships: a brand's highest relationship id, read for every brand in one
query (an index endpoint each, whatever the brand's size).
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.models import Brand, BrandStatus

from . import engine

log = logging.getLogger(__name__)

# A split run whose parts are still queued or running is not planned again by the next dispatch (every 10
# minutes); one older than this lost a part (a crash, a lost message) and is planned afresh.
SPLIT_STALE_AFTER = dt.timedelta(hours=2)


def _sizes(schemas: list[str]) -> dict[str, int]:
    """Each brand's relationships, counted as its highest relationship id (one query for all brands)."""
    if not schemas:
        return {}
    parts = [f"SELECT %s, (SELECT COALESCE(max(id), 0) FROM {connection.ops.quote_name(s)}.brandguides_relationship)"
             for s in schemas]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), schemas)
        return dict(cursor.fetchall())


def _split(schema: str, day: dt.date, size: int) -> bool:
    """Plan and enqueue a large brand's run in parts. False when a same-day run already happened (what is left
    is small: the adds since, which one job does) or a split run of that day is still under way."""
    from .models import EngineRun

    with schema_context(schema):
        runs = EngineRun.objects.filter(day=day)
        if runs.filter(finished_at__isnull=False).exists():
            return False
        if runs.filter(finished_at__isnull=True, started_at__gte=timezone.now() - SPLIT_STALE_AFTER).exists():
            log.info("tasks.split_run_under_way", extra={"tenant": schema, "day": day.isoformat()})
            return True
    parts = -(-size // settings.TASKS_ENGINE_PART_RELATIONSHIPS)
    run_id, numbers = engine.split_plan(brand=schema, day=day, parts=parts)
    with schema_context(schema):  # the jobs carry the brand's schema; the plan is committed before they exist
        for number in numbers:
            generate_part.delay(run_id, number)
    return True


def brands_dispatch(*, day: dt.date | None = None, slug: str | None = None) -> list[str]:
    """Enqueue the runs of every active brand (or one brand): small brands grouped into jobs of up to
    TASKS_ENGINE_JOB_RELATIONSHIPS relationships, large ones (over TASKS_ENGINE_SPLIT_RELATIONSHIPS) split
    into parts. Returns the schemas dispatched."""
    day = day or engine.today()
    brands = Brand.objects.filter(status=BrandStatus.ACTIVE).exclude(schema_name="public")
    if slug:
        brands = brands.filter(slug=slug)
    schemas = list(brands.order_by("pk").values_list("schema_name", flat=True))
    sizes = _sizes(schemas)
    batch: list[str] = []
    batch_size = 0
    for schema in schemas:
        size = sizes.get(schema, 0)
        if size > settings.TASKS_ENGINE_SPLIT_RELATIONSHIPS and _split(schema, day, size):
            continue
        if batch and batch_size + size > settings.TASKS_ENGINE_JOB_RELATIONSHIPS:
            generate_brands.delay(day.isoformat(), batch)
            batch, batch_size = [], 0
        batch.append(schema)
        batch_size += size
    if batch:
        generate_brands.delay(day.isoformat(), batch)
    return schemas


@shared_task(name="tasks.generate_dispatch", ignore_result=True)
def generate_dispatch(day: str | None = None) -> int:
    """Nightly (and on demand): today's tasks for every active brand. Safe to run twice."""
    return len(brands_dispatch(day=dt.date.fromisoformat(day) if day else None))


@shared_task(name="tasks.generate_brands", ignore_result=True, acks_late=True,
             autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=3)
def generate_brands(day: str, schemas: list[str]) -> int:
    """Several small brands, one after the other, each in its own schema and transaction. A brand that fails
    does not stop the others: it is retried alone (generate_brand). A blind retry is safe: generation is
    idempotent and has no side effect outside the brand's own tables."""
    created = 0
    for schema in schemas:
        try:
            created += engine.generate(brand=schema, day=dt.date.fromisoformat(day)).created
        except Exception:
            if generate_brands.request.is_eager:
                raise
            log.exception("tasks.generate_failed", extra={"tenant": schema, "day": day})
            with schema_context(schema):
                generate_brand.apply_async((day,), countdown=60)
    return created


@shared_task(name="tasks.generate_brand", ignore_result=True, acks_late=True,
             autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=3)
def generate_brand(day: str) -> int:
    """Runs in the brand schema stamped on the job. A blind retry is safe: generation is idempotent and
    has no side effect outside the brand's own tables."""
    return engine.generate(brand=connection.schema_name, day=dt.date.fromisoformat(day)).created


@shared_task(name="tasks.generate_part", ignore_result=True, acks_late=True,
             autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=3)
def generate_part(run_id: int, number: int) -> int:
    """One part of a large brand's split run, in the brand schema stamped on the job. Safe to run twice: a
    finished part is skipped; the last part to finish closes the run (tasks.engine.generate_part)."""
    result = engine.generate_part(brand=connection.schema_name, run_id=run_id, number=number)
    return result.created if result else 0
