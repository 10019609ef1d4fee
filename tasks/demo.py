"""DEMO_MODE only: fast-forward a brand's lifecycle by whole days, so a person can watch a customer go through the
28 days in a few clicks instead of four weeks.

Time moves; the engine does not change. One day forward shifts, in the brand's schema, everything the engine
dates by one day into the past: the relationships' ``added_at`` / ``ended_at`` (lifecycle day 0), the tasks'
dates (issued, due, completed, closed, created, credited; a lifecycle task's ``period`` is its day 0, so it moves
with it) and the EngineRun watermarks; then it runs the real engine for the real today. Each step is exactly one
nightly run: node days after the last run are issued, a node whose window closed is not, nothing is issued twice
(the once-only key moved with its day 0), overdue tasks expire. N days are N such steps, each in its own
transaction under the engine's lock. The sidebar, the dashboards and the rates keep the real clock.

Rejected: a demo clock that runs the engine for future days. Its tasks would carry dates the rest of the platform
(the sidebar's "due today", expiry, completion rates, the real nightly run) takes for the future, and the next
real night would run "before" the last demo run.

What does not move: the mall's data (points, coupons, birthdays, orders) and the brand's groups, so the event
triggers still see the real dates.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_context

from scrm.errors import AppError, NotFound
from tenants.models import Brand, BrandStatus

from . import engine

log = logging.getLogger(__name__)

MAX_DAYS = 28

_SHIFT = [
    """UPDATE brandguides_relationship
          SET added_at = added_at - interval '1 day', ended_at = ended_at - interval '1 day'""",
    # a lifecycle task's period is its day 0 (YYYY-MM-DD); moved through a prefix so that no two rows of one
    # member and node ever hold the same key halfway through the statement
    r"""UPDATE tasks_guidetask
          SET issued_on = issued_on - 1, due_on = due_on - 1,
              completed_at = completed_at - interval '1 day', closed_at = closed_at - interval '1 day',
              reward_credited_at = reward_credited_at - interval '1 day', created_at = created_at - interval '1 day',
              period = CASE WHEN source = 'lifecycle' AND period ~ '^\d{4}-\d{2}-\d{2}$'
                            THEN 'ff:' || to_char(period::date - 1, 'YYYY-MM-DD') ELSE period END""",
    """UPDATE tasks_guidetask SET period = substr(period, 4) WHERE source = 'lifecycle' AND period LIKE 'ff:%'""",
    """UPDATE tasks_enginerun
          SET day = day - 1, started_at = started_at - interval '1 day', finished_at = finished_at - interval '1 day'""",
]


def demo_fast_forward(*, brand_id: int, days: int) -> list[engine.RunResult]:
    """Move ``brand``'s lifecycle ``days`` days on, one engine night per day (see the module docstring).
    Refused outside DEMO_MODE. Returns each night's result."""
    if not getattr(settings, "DEMO_MODE", False):
        raise NotFound("仅演示模式 Demo mode only", code="demo_only")
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise AppError(f"天数须为1-{MAX_DAYS} Days must be 1-{MAX_DAYS}", code="invalid",
                       fields={"days": [f"1-{MAX_DAYS}"]})
    brand = Brand.objects.filter(pk=brand_id, status=BrandStatus.ACTIVE).exclude(schema_name="public").first()
    if brand is None:
        raise NotFound("品牌不存在 Brand not found", code="brand_not_found")
    results = []
    for _ in range(days):
        with schema_context(brand.schema_name), transaction.atomic():
            with connection.cursor() as cursor:
                # the engine's own lock: a real run waits for this step, and this step for a real run
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('tasks.engine'), hashtext(%s))",
                               [brand.schema_name])
                for statement in _SHIFT:
                    cursor.execute(statement)
            results.append(engine.generate(brand=brand, day=engine.today()))
    log.info("tasks.demo_fast_forward", extra={"tenant": brand.schema_name, "days": days,
                                               "tasks_created": sum(r.created for r in results)})
    return results
