"""Turning service errors into command-line errors that name the offending argument."""

from __future__ import annotations

from django.core.management.base import CommandError

from scrm.errors import AppError
from tenants.models import Brand


def command_error(exc: AppError, flags: dict[str, str]) -> CommandError:
    """``--slug: 3-40 lowercase letters…`` for each field the service complained about."""
    lines = [f"{flags.get(field, field)}: {' '.join(str(m) for m in messages)}"
             for field, messages in exc.fields.items()]
    detail = "\n  ".join(lines)
    return CommandError(f"{exc.message} [{exc.code}]" + (f"\n  {detail}" if detail else ""))


def brand_by_slug(slug: str, *, flag: str) -> Brand:
    brand = Brand.objects.filter(slug=(slug or "").strip().lower()).first()
    if brand is None:
        raise CommandError(f"{flag}: no brand has the subdomain '{slug}'. 品牌不存在。")
    return brand
