"""Rebuild the Redis leaderboards (and optionally the coin/exp balances) from PostgreSQL."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from incentives import leaderboards, services


class Command(BaseCommand):
    help = "重建排行榜 Rebuild leaderboards from the database (Redis is a cache; safe to run any time)."

    def add_arguments(self, parser):
        parser.add_argument("--day", metavar="YYYY-MM-DD",
                            help="重建包含该日的今日/本周/本月榜 Boards of the periods containing this day (default today)")
        parser.add_argument("--metric", action="append", choices=list(leaderboards.METRICS),
                            help="只重建该指标 Only this metric (repeatable)")
        parser.add_argument("--balances", action="store_true",
                            help="同时按流水重算金币经验余额 Also rebuild coin/exp balances from the ledger")

    def handle(self, *args, day=None, metric=None, balances=False, **options):
        moment = timezone.now()
        if day:
            try:
                moment = timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12)))
            except ValueError as exc:
                raise CommandError(f"--day: '{day}' is not a date (YYYY-MM-DD). 日期格式应为 YYYY-MM-DD。") from exc
        if balances:
            fixed = services.balances_rebuild()
            self.stdout.write(f"balances: {fixed} corrected")
        boards = leaderboards.leaderboards_rebuild(moment=moment, metrics=metric)
        self.stdout.write(f"leaderboards: {boards} boards rebuilt for {timezone.localtime(moment):%Y-%m-%d}")
