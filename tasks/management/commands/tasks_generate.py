"""Generate guide tasks now (the nightly job, on demand): every active brand, or one."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from tasks import engine
from tasks.tasks import brands_dispatch
from tenants.management.commands._cli import brand_by_slug
from tenants.models import Brand, BrandStatus


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--day: '{value}' is not a date (YYYY-MM-DD). 日期格式应为 YYYY-MM-DD。") from exc


class Command(BaseCommand):
    help = "生成导购任务 Generate guide tasks for a day (idempotent: a re-run creates nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--brand", metavar="SLUG", help="只生成该品牌 Only this brand (subdomain)")
        parser.add_argument("--day", metavar="YYYY-MM-DD", help="日期 Day (default: today, Asia/Shanghai)")
        parser.add_argument("--enqueue", action="store_true",
                            help="交给Celery执行 Enqueue the brands' runs (grouped or split, see tasks/tasks.py) instead of running here")

    def handle(self, *args, brand=None, day=None, enqueue=False, **options):
        day = _day(day) if day else engine.today()
        if brand:
            target = brand_by_slug(brand, flag="--brand")
            if not target.is_active:
                raise CommandError(f"--brand: '{target.slug}' is suspended. 品牌已停用。")
        if enqueue:
            schemas = brands_dispatch(day=day, slug=brand)
            self.stdout.write(f"enqueued the runs of {len(schemas)} brand(s) for {day}")
            return
        brands = [target] if brand else list(Brand.objects.filter(status=BrandStatus.ACTIVE)
                                             .exclude(schema_name="public").order_by("pk"))
        for one in brands:
            result = engine.generate(brand=one, day=day)
            self.stdout.write(f"{one.slug} {day}: created {result.created}, completed {result.completed}, "
                              f"cancelled {result.cancelled}, expired {result.expired}")
