"""Onboard a brand: its tenant row, its domain and its migrated PostgreSQL schema (``brand_onboard``)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from scrm.errors import AppError
from tenants.models import BrandCategory
from tenants.services import brand_onboard

from ._cli import command_error

FLAGS = {"name": "--name", "slug": "--slug", "category": "--category", "name_en": "--name-en"}


class Command(BaseCommand):
    help = "入驻品牌 Onboard a brand: creates its schema and its <slug> domain."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="品牌名 Brand name, e.g. 兰蔻")
        parser.add_argument("--slug", required=True, help="子域名 Subdomain, e.g. lancome")
        parser.add_argument("--category", required=True, choices=BrandCategory.values, help="品类 Category")
        parser.add_argument("--name-en", default="", help="英文名 English name")

    def handle(self, *args, name, slug, category, name_en, **options):
        try:
            brand = brand_onboard(name=name, slug=slug, category=category, name_en=name_en,
                                  actor="command:onboard_brand")
        except AppError as exc:
            raise command_error(exc, FLAGS) from exc
        domain = brand.domains.filter(is_primary=True).values_list("domain", flat=True).first()
        self.stdout.write(self.style.SUCCESS(
            f"已入驻 Onboarded {brand.name} ({brand.slug}): schema {brand.schema_name}, domain {domain}"))
