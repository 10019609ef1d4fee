"""Writes for guides and their customer relationships."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django_tenants.utils import schema_context

from members.models import Member
from tenants.services import audit, audit_many

from .models import Guide, GuideStatus

# Sent by ``relationships_create_new`` with ``relationships`` (the rows it inserted at once, which send no
# post_save): the listeners of a created relationship (the customers-added leaderboards) take them all in one go.
relationships_created = Signal()


def relationship_record(*, guide: Guide, member: Member, external_userid: str = "", channel: str = "",
                        state: str = "", added_at: dt.datetime | None = None):
    """Record that ``member`` added ``guide``. Returns (relationship, change).

    change is "created" (lifecycle day 0 is ``added_at``), "reactivated" (the customer came back
    after the relationship ended: a new lifecycle starts at ``added_at``) or "unchanged" (a
    repeated event for a relationship that is already active).
    """
    from .brand.models import Relationship, RelationshipStatus

    added_at = added_at or timezone.now()
    with transaction.atomic(), schema_context(guide.brand.schema_name):
        relationship, created = Relationship.objects.select_for_update().get_or_create(
            guide=guide, member=member,
            defaults={"external_userid": external_userid, "channel": channel[:64], "state": state[:64],
                      "added_at": added_at},
        )
        change = "created" if created else "unchanged"
        if not created and relationship.status != RelationshipStatus.ACTIVE:
            relationship.status = RelationshipStatus.ACTIVE
            relationship.ended_at = None
            relationship.ended_reason = ""
            relationship.added_at = added_at
            relationship.channel = channel[:64] or relationship.channel
            relationship.state = state[:64]
            relationship.readded_count += 1
            relationship.save(update_fields=["status", "ended_at", "ended_reason", "added_at", "channel", "state",
                                             "readded_count"])
            change = "reactivated"
        if change != "unchanged":
            audit(action=f"relationship.{change}", brand=guide.brand, member_id=member.pk, guide_id=guide.pk,
                  channel=channel)
    return relationship, change


def relationships_create_new(*, brand, rows: list[dict]) -> list:
    """Relationships of customers who have just become members (no relationship of theirs can exist yet): one
    INSERT for the brand. Each row: guide, member, external_userid, channel, state, added_at (lifecycle day 0).
    The same rows, audit entries and listeners as ``relationship_record`` creating each one."""
    from .brand.models import Relationship

    if not rows:
        return []
    with transaction.atomic(savepoint=False), schema_context(brand.schema_name):
        created = Relationship.objects.bulk_create([
            Relationship(guide=row["guide"], member=row["member"], external_userid=row.get("external_userid", ""),
                         channel=row.get("channel", "")[:64], state=row.get("state", "")[:64],
                         added_at=row.get("added_at") or timezone.now()) for row in rows])
        audit_many([{"action": "relationship.created", "brand": brand, "member_id": r.member_id,
                     "guide_id": r.guide_id, "channel": row.get("channel", "")} for r, row in zip(created, rows,
                                                                                                strict=True)])
        relationships_created.send(sender=Relationship, relationships=created)
    return created


def relationship_add(*, guide: Guide, member: Member, external_userid: str = "", channel: str = "",
                     added_at: dt.datetime | None = None):
    """Record that ``member`` added ``guide`` (lifecycle day 0). A re-add re-activates the same row."""
    return relationship_record(guide=guide, member=member, external_userid=external_userid, channel=channel,
                               added_at=added_at)[0]


def relationship_end(*, guide: Guide, member_id: int, reason: str, at: dt.datetime | None = None) -> bool:
    """End the guide's relationship with a customer (deleted, transferred). Memberships stay."""
    from .brand.models import Relationship, RelationshipStatus

    with schema_context(guide.brand.schema_name):
        ended = Relationship.objects.filter(guide=guide, member_id=member_id, status=RelationshipStatus.ACTIVE
                                            ).update(status=RelationshipStatus.ENDED, ended_at=at or timezone.now(),
                                                     ended_reason=reason[:40])
    if ended:
        audit(action="relationship.ended", brand=guide.brand, member_id=member_id, guide_id=guide.pk, reason=reason)
    return bool(ended)


def guide_resign(*, guide: Guide, source: str, on: dt.date | None = None) -> Guide:
    """Mark a guide resigned and lock their account. Customers stay related until they are handed over
    (离职继承, the inheritance flow); nothing is deleted. Safe to call twice."""
    with transaction.atomic():
        guide = Guide.objects.select_for_update().get(pk=guide.pk)
        if guide.status == GuideStatus.RESIGNED:
            return guide
        guide.status = GuideStatus.RESIGNED
        guide.resigned_on = on or timezone.localdate()
        guide.save(update_fields=["status", "resigned_on"])
        role = getattr(guide, "staff_role", None)
        if role is not None:
            type(role.user).objects.filter(pk=role.user_id).update(is_active=False)
        audit(action="guide.resigned", brand=guide.brand, guide_id=guide.pk, source=source)
        # 离职继承: hand the customers over once the resignation is committed (the task re-reads the guide)
        guide_id = guide.pk
        transaction.on_commit(lambda: _handover_start_later(guide_id, source), robust=True)
    return guide


def _handover_start_later(guide_id: int, source: str) -> None:
    from .handover.tasks import handover_start

    handover_start.delay(guide_id, source)
