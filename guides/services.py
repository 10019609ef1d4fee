"""Writes for guides and their customer relationships."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from members.models import Member
from tenants.services import audit

from .models import Guide


def relationship_add(*, guide: Guide, member: Member, external_userid: str = "", channel: str = "",
                     added_at: dt.datetime | None = None):
    """Record that ``member`` added ``guide`` (lifecycle day 0). A re-add re-activates the same row."""
    from .brand.models import Relationship, RelationshipStatus

    added_at = added_at or timezone.now()
    with transaction.atomic(), schema_context(guide.brand.schema_name):
        relationship, created = Relationship.objects.get_or_create(
            guide=guide, member=member,
            defaults={"external_userid": external_userid, "channel": channel[:64], "added_at": added_at},
        )
        if not created and relationship.status != RelationshipStatus.ACTIVE:
            relationship.status = RelationshipStatus.ACTIVE
            relationship.ended_at = None
            relationship.ended_reason = ""
            relationship.save(update_fields=["status", "ended_at", "ended_reason"])
        if created:
            audit(action="relationship.added", brand=guide.brand, member_id=member.pk, guide_id=guide.pk,
                  channel=channel)
    return relationship
