"""Create an integration's API key (``api_client_create``); the key is printed once and never stored."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tenants.models import ApiClient
from tenants.services import api_client_create

from ._cli import brand_by_slug


class Command(BaseCommand):
    help = "创建接口客户端 Create an API client (POS, mini-program, live stream) and print its key once."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="名称 Name, e.g. 'Lancome POS'")
        parser.add_argument("--brand", default="", help="品牌子域名 Brand subdomain; omit for a mall-wide client")

    def handle(self, *args, name, brand, **options):
        name = (name or "").strip()
        max_length = ApiClient._meta.get_field("name").max_length
        if not name or len(name) > max_length:
            raise CommandError(f"--name: 1-{max_length} characters are required. 名称必填，最多{max_length}字。")
        brand_obj = brand_by_slug(brand, flag="--brand") if brand else None
        client, key = api_client_create(name=name, brand=brand_obj)
        scope = f"brand {brand_obj.slug}" if brand_obj else "mall"
        self.stdout.write(f"接口客户端 API client '{client.name}' ({scope}), prefix {client.key_prefix}")
        self.stdout.write(self.style.WARNING("密钥只显示这一次 The key is shown only once; store it now:"))
        self.stdout.write(key)
