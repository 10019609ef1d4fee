"""Celery jobs of the task engine: a dispatcher that fans out one job per active brand schema."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import connection
from django_tenants.utils import schema_context

from tenants.models import Brand, BrandStatus

from . import engine


def brands_dispatch(*, day: dt.date | None = None, slug: str | None = None) -> list[str]:
    """Enqueue one generation job per active brand (or one brand). Returns the schemas enqueued."""
    day = day or engine.today()
    brands = Brand.objects.filter(status=BrandStatus.ACTIVE).exclude(schema_name="public")
    if slug:
        brands = brands.filter(slug=slug)
    schemas = list(brands.order_by("pk").values_list("schema_name", flat=True))
    for schema in schemas:
        # the job carries its schema (scrm.celery stamps the publishing schema on every task)
        with schema_context(schema):
            generate_brand.delay(day.isoformat())
    return schemas


@shared_task(name="tasks.generate_dispatch", ignore_result=True)
def generate_dispatch(day: str | None = None) -> int:
    """Nightly (and on demand): today's tasks for every active brand, one job each. Safe to run twice."""
    return len(brands_dispatch(day=dt.date.fromisoformat(day) if day else None))


@shared_task(name="tasks.generate_brand", ignore_result=True, acks_late=True,
             autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=3)
def generate_brand(day: str) -> int:
    """Runs in the brand schema stamped on the job. A blind retry is safe: generation is idempotent and
    has no side effect outside the brand's own tables."""
    return engine.generate(brand=connection.schema_name, day=dt.date.fromisoformat(day)).created
