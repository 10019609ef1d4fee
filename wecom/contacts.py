"""Callbacks about WeCom members (change_contact) and the guide's notes on a customer (edit_external_contact).

Registered in the inbox's ``HANDLERS`` from ``WecomConfig.ready()``, like the group and tag handlers.

- change_contact ``create_user`` / ``update_user``: a WeCom member who is in the guide directory
  gets their name, and a renamed account (``NewUserID``) its new userid, so later callbacks still
  route. A member who is not in the directory is reported (the event is kept as ``ignored`` with the
  reason), never invented: a brand and counter come only from the directory.
- change_contact ``delete_user``: the guide resigns through ``guides.services.guide_resign``, which
  starts the customer handover (离职继承).
- edit_external_contact: the member's empty name or missing unionid from WeCom, and the guide's
  remark, description and corp tags for the customer, copied onto the relationship.
Facts: ../shared/reference/wecom-api.md §4 (events).
"""

from __future__ import annotations

from django_tenants.utils import schema_context

from guides.models import Guide
from tenants.services import audit

from .models import CallbackEvent, InboxStatus


def handle_contact_member(event: CallbackEvent):
    """change_contact: a WeCom member (guide) created / updated / deleted."""
    from guides import services as guide_services

    from .services import Outcome, _guide

    guide = _guide(event.user_id)
    if event.change_type == "delete_user":
        if guide is None:
            return Outcome(InboxStatus.IGNORED, f"unknown member {event.user_id}")
        guide_services.guide_resign(guide=guide, source="wecom_callback")
        return Outcome(result="guide resigned; handover started", brand=guide.brand)
    if guide is None:
        return Outcome(InboxStatus.IGNORED, f"member {event.user_id} is not in the guide directory "
                                            f"({event.change_type}); add them in the admin to route their customers")
    updates, changed = {}, []
    name = (event.payload.get("Name") or "")[:50]
    if name and name != guide.name:
        updates["name"] = name
        changed.append("name")
    new_userid = (event.payload.get("NewUserID") or "").strip()
    if new_userid and new_userid != guide.wecom_userid:
        # WeCom renamed the account: callbacks from now on carry the new userid
        if Guide.objects.filter(wecom_userid=new_userid).exclude(pk=guide.pk).exists():
            return Outcome(InboxStatus.FAILED, f"new userid {new_userid} already belongs to another guide",
                           brand=guide.brand)
        updates["wecom_userid"] = new_userid[:64]
        changed.append("userid")
    if updates:
        Guide.objects.filter(pk=guide.pk).update(**updates)
        audit(action="guide.wecom_updated", actor="wecom", brand=guide.brand, guide_id=guide.pk,
              fields=changed, change_type=event.change_type)
    return Outcome(result=f"guide {event.change_type}: {', '.join(changed) or 'nothing to change'}",
                   brand=guide.brand)


def handle_edit_contact(event: CallbackEvent):
    """edit_external_contact: one ``externalcontact/get``, then the member (an empty name, a missing
    unionid) and the relationship (the guide's remark, description and corp tags) are brought in step."""
    from members.models import Member, MemberExternalId

    from .services import Outcome, _customer_profile, _guide

    guide = _guide(event.user_id)
    member_id = MemberExternalId.objects.filter(corp_id=event.corp_id, external_userid=event.external_userid
                                                ).values_list("member_id", flat=True).first()
    if guide is None or member_id is None:
        return Outcome(InboxStatus.IGNORED, "unknown guide or customer")
    contact, follow = _customer_profile(event.external_userid, guide.wecom_userid)
    member = Member.objects.select_for_update().get(pk=member_id)
    changed = []
    if contact.get("name") and not member.name:
        member.name = contact["name"][:50]
        changed.append("name")
    if contact.get("unionid") and not member.unionid and not Member.objects.filter(unionid=contact["unionid"]).exists():
        member.unionid = contact["unionid"]
        changed.append("unionid")
    if changed:
        member.save(update_fields=[*changed, "updated_at"])
    if follow and relationship_details_set(guide=guide, member_id=member_id, follow=follow):
        changed.append("remark/description/tags")
    return Outcome(result=f"refreshed {', '.join(changed) or 'nothing'}", brand=guide.brand)


def relationship_details_set(*, guide: Guide, member_id: int, follow: dict) -> bool:
    """Copy the guide's remark, description and corp tags for this customer onto the relationship."""
    from guides.brand.models import Relationship

    from .sync import follow_details

    remark, description, tag_ids = follow_details(follow)
    with schema_context(guide.brand.schema_name):
        updated = (Relationship.objects.filter(guide=guide, member_id=member_id)
                   .exclude(remark=remark, description=description, tag_ids=tag_ids)
                   .update(remark=remark, description=description, tag_ids=tag_ids))
    return bool(updated)
