"""Suspend or resume a brand (``brand_suspend`` / ``brand_resume``); its data is always kept."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tenants.services import brand_resume, brand_suspend

from ._cli import brand_by_slug


class Command(BaseCommand):
    help = "停用或恢复品牌 Suspend or resume a brand: blocks or re-allows its logins, API keys and enrolments."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="品牌子域名 The brand's subdomain")
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--suspend", action="store_true", help="停用 Suspend")
        action.add_argument("--resume", action="store_true", help="恢复 Resume")

    def handle(self, *args, slug, suspend, resume, **options):
        brand = brand_by_slug(slug, flag="SLUG")
        service = brand_suspend if suspend else brand_resume
        brand = service(brand=brand, actor="command:brand_status")
        self.stdout.write(self.style.SUCCESS(f"{brand.name} ({brand.slug}): {brand.get_status_display()}"))
