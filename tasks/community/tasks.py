"""Celery jobs of group tasks: a dispatcher that fans out one generation job per active brand."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError, connection
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.models import Brand, BrandStatus

from . import services


def brands_dispatch(*, day: dt.date | None = None) -> list[str]:
    """Enqueue one group-task generation job per active brand. Returns the schemas enqueued."""
    day = day or timezone.localdate()
    schemas = list(Brand.objects.filter(status=BrandStatus.ACTIVE).exclude(schema_name="public")
                   .order_by("pk").values_list("schema_name", flat=True))
    for schema in schemas:
        with schema_context(schema):  # the job carries its schema (scrm.celery stamps it)
            generate_brand.delay(day.isoformat())
    return schemas


@shared_task(name="community.generate_dispatch", ignore_result=True)
def generate_dispatch(day: str | None = None) -> int:
    """Nightly, then hourly: every active brand's group tasks for the day. Safe to run twice."""
    return len(brands_dispatch(day=dt.date.fromisoformat(day) if day else None))


@shared_task(name="community.generate_brand", ignore_result=True, acks_late=True,
             autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def generate_brand(day: str) -> int:
    """Runs in the brand schema stamped on the job. A blind retry is safe: generation is idempotent, rewards are
    credited once, and nothing is sent to WeCom."""
    return services.group_tasks_generate(brand=connection.schema_name, day=dt.date.fromisoformat(day)).created
