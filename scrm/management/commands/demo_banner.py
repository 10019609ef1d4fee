"""Print where the demo runs and how to sign in (called by `make run` once /healthz is up)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from scrm import demo


class Command(BaseCommand):
    help = "演示入口 Print the demo URLs and logins."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="Web port (default 8000)")

    def handle(self, *args, port, **options):
        self.stdout.write(demo.banner(port=port))
