"""Brand onboarding, suspension and API clients: one service used by admin, command and API."""

from __future__ import annotations

import hashlib
import re
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scrm.errors import AppError, Conflict

from .models import ApiClient, AuditEvent, Brand, BrandCategory, BrandStatus, Domain

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = {"www", "admin", "api", "mall", "public", "static", "sidebar", "wecom", "pg", "information-schema"}


def audit(*, action: str, actor: str = "system", brand=None, member_id=None, guide_id=None, **data) -> None:
    AuditEvent.objects.create(
        action=action, actor=actor, brand=brand, member_id=member_id, guide_id=guide_id, data=data
    )


def audit_many(rows: list[dict]) -> None:
    """Several timeline rows in one INSERT (a batch service); each dict takes ``audit()``'s arguments."""
    events = []
    for row in rows:
        row = dict(row)
        fixed = {key: row.pop(key, default) for key, default in
                 (("action", None), ("actor", "system"), ("brand", None), ("member_id", None), ("guide_id", None))}
        events.append(AuditEvent(**fixed, data=row))
    if events:
        AuditEvent.objects.bulk_create(events)


def brand_onboard(*, name: str, slug: str, category: str, name_en: str = "", actor: str = "system") -> Brand:
    """Create a brand tenant: its row, its domain and its PostgreSQL schema (migrated)."""
    slug = (slug or "").strip().lower()
    fields = {}
    if not (name or "").strip():
        fields["name"] = ["Required. 必填。"]
    if not SLUG_RE.match(slug) or slug in RESERVED_SLUGS:
        fields["slug"] = ["3-40 lowercase letters, digits or '-', starting with a letter; not reserved. "
                          "子域名须为3-40位小写字母、数字或'-'。"]
    if category not in BrandCategory.values:
        fields["category"] = [f"One of {', '.join(BrandCategory.values)}."]
    if fields:
        raise AppError("Invalid brand. 品牌信息无效。", code="invalid_brand", fields=fields)
    if Brand.objects.filter(slug=slug).exists():
        raise Conflict(f"A brand with subdomain '{slug}' already exists. 子域名已被占用。", code="brand_exists",
                       fields={"slug": ["Taken."]})
    with transaction.atomic():
        brand = Brand(
            name=name.strip(), name_en=name_en.strip(), slug=slug, category=category,
            schema_name="brand_" + slug.replace("-", "_"),
        )
        brand.save(verbosity=0)  # auto_create_schema: creates and migrates the brand schema quietly
        Domain.objects.create(domain=f"{slug}.{settings.BRAND_DOMAIN_SUFFIX}", tenant=brand, is_primary=True)
        audit(action="brand.onboarded", actor=actor, brand=brand, slug=slug)
    return brand


def brand_suspend(*, brand: Brand, actor: str = "system") -> Brand:
    """Block the brand's logins, API clients and new enrolments; keep every row."""
    if brand.status != BrandStatus.SUSPENDED:
        Brand.objects.filter(pk=brand.pk).update(status=BrandStatus.SUSPENDED, suspended_at=timezone.now())
        audit(action="brand.suspended", actor=actor, brand=brand)
    brand.refresh_from_db()
    return brand


def brand_resume(*, brand: Brand, actor: str = "system") -> Brand:
    if brand.status != BrandStatus.ACTIVE:
        Brand.objects.filter(pk=brand.pk).update(status=BrandStatus.ACTIVE, suspended_at=None)
        audit(action="brand.resumed", actor=actor, brand=brand)
    brand.refresh_from_db()
    return brand


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_client_create(*, name: str, brand: Brand | None = None, key: str | None = None) -> tuple[ApiClient, str]:
    """Create an integration's API key. Returns the client and the key (shown once)."""
    prefix = secrets.token_hex(4)
    key = key or f"sk_{prefix}_{secrets.token_urlsafe(24)}"
    prefix = key.split("_")[1] if key.startswith("sk_") and key.count("_") >= 2 else prefix
    client = ApiClient.objects.create(name=name, brand=brand, key_prefix=prefix, key_hash=_hash_key(key))
    return client, key


def api_client_authenticate(key: str) -> ApiClient | None:
    if not key.startswith("sk_") or key.count("_") < 2:
        return None
    prefix = key.split("_")[1]
    client = ApiClient.objects.select_related("brand").filter(key_prefix=prefix, is_active=True).first()
    if client is None or not secrets.compare_digest(client.key_hash, _hash_key(key)):
        return None
    if client.brand_id and not client.brand.is_active:
        return None
    return client
