"""Seed the demo mall (idempotent; see ``scrm.demo``)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scrm import demo


class Command(BaseCommand):
    help = ("演示数据 Seed the demo mall: 3 stores, 8 brands with counters and guides, demo logins, an API key, "
            "members with points, coupons and guide relationships. Re-running adds only what is missing.")

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=demo.DEFAULT_MEMBERS,
                            help=f"会员数 Members to seed (default {demo.DEFAULT_MEMBERS})")

    def handle(self, *args, members, verbosity, **options):
        if not getattr(settings, "DEMO_MODE", False):
            raise CommandError("DEMO_MODE is off: seed_demo creates logins with published passwords. "
                               "演示模式未开启，拒绝写入演示账号。")
        if not 0 <= members <= 200_000:
            raise CommandError("--members: between 0 and 200000. 会员数须在 0 到 200000 之间。")
        started = time.monotonic()
        created = demo.seed(members=members, quiet=verbosity < 2)
        elapsed = time.monotonic() - started
        if not created:
            self.stdout.write(f"演示数据已是最新 Demo data already complete; nothing to add ({elapsed:.1f}s).")
            return
        summary = ", ".join(f"{name} {count}" for name, count in sorted(created.items()))
        self.stdout.write(self.style.SUCCESS(f"演示数据已写入 Demo data seeded in {elapsed:.1f}s: {summary}"))
