"""Customer groups (客户群): keep the brand's copy of each WeCom customer group in step.

Every ``change_external_chat`` event (create; update add_member / del_member / change_owner /
change_name / change_notice; dismiss) re-reads the group with ``groupchat/get`` and writes it with
two set-based statements, so the copy is right whatever order events arrive in, however many were
lost, and however often one is repeated. The owner decides the brand (owner userid -> guide ->
brand schema); ``GroupChatRoute`` remembers the brand so a dismissed group (which WeCom no longer
returns) and an owner change across brands still find the old copy.
Facts: ../shared/reference/wecom-api.md §4.3 (event), §7 (groupchat/list, groupchat/get).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from guides.models import Guide
from members.models import Member, MemberExternalId

from .client import RateLimited, WeComError, mall_client
from .models import GroupChatRoute, InboxStatus

logger = logging.getLogger(__name__)

GONE_ERRCODES = {40050, 49008}  # unknown chat id / the group was dismissed (groupchat/get)
MEMBER_TYPES = {1: "member", 2: "external"}


def _at(epoch) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    except (TypeError, ValueError):
        return timezone.now()


def group_upsert(*, guide: Guide, chat: dict, corp_id: str, at: dt.datetime, wecom_status: int | None = None) -> dict:
    """Write one group as ``groupchat/get`` returned it into the owner's brand schema. Idempotent.

    Members in the answer are inserted or refreshed (``left_at`` cleared for a re-join); members
    missing from it get ``left_at = at``. Customers are linked to the mall member by external_userid
    (or unionid) when the mall knows them. Returns counts: members, customers, joined, left, created.
    """
    from guides.brand.models import CustomerGroup, CustomerGroupMember

    members: dict[str, dict] = {}
    for item in chat.get("member_list") or []:
        userid = str(item.get("userid") or "")
        if userid:
            members[userid] = item  # WeCom lists each member once; keep the last if not
    userids = list(members)
    types = [MEMBER_TYPES.get(int(members[u].get("type") or 2), "external") for u in userids]
    customer_count = sum(1 for t in types if t == "external")
    group_table, member_table = CustomerGroup._meta.db_table, CustomerGroupMember._meta.db_table
    store_id = guide.counter.store_id if guide.counter_id else None
    with schema_context(guide.brand.schema_name), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {group_table} AS g
                (chat_id, name, owner_id, owner_userid, notice, status, wecom_status, member_version, member_count,
                 customer_count, store_id, brand_tags, interest_tags, created_at, synced_at, dismissed_at)
            VALUES (%(chat_id)s, %(name)s, %(owner_id)s, %(owner)s, %(notice)s, 'normal', COALESCE(%(wstatus)s, 0),
                    %(version)s, %(members)s, %(customers)s, %(store_id)s, '{{}}', '{{}}', %(created)s, now(), NULL)
            ON CONFLICT (chat_id) DO UPDATE
               SET name = EXCLUDED.name, owner_id = EXCLUDED.owner_id, owner_userid = EXCLUDED.owner_userid,
                   notice = EXCLUDED.notice, status = 'normal', dismissed_at = NULL,
                   wecom_status = COALESCE(%(wstatus)s, g.wecom_status), member_version = EXCLUDED.member_version,
                   member_count = EXCLUDED.member_count, customer_count = EXCLUDED.customer_count,
                   store_id = COALESCE(g.store_id, EXCLUDED.store_id), synced_at = now()
            RETURNING id, (xmax = 0)
            """,
            {"chat_id": chat["chat_id"], "name": (chat.get("name") or "")[:100], "owner_id": guide.pk,
             "owner": guide.wecom_userid, "notice": chat.get("notice") or "", "wstatus": wecom_status,
             "version": (chat.get("member_version") or "")[:64], "members": len(userids),
             "customers": customer_count, "store_id": store_id, "created": _at(chat.get("create_time"))},
        )
        group_id, created = cursor.fetchone()
        cursor.execute(
            f"""
            WITH incoming AS (
                SELECT * FROM unnest(%(ids)s::text[], %(types)s::text[], %(names)s::text[], %(unionids)s::text[],
                                     %(join_times)s::bigint[], %(scenes)s::int[], %(invitors)s::text[],
                                     %(states)s::text[])
                       AS t(userid, type, name, unionid, join_time, join_scene, invitor, state)),
            before AS (SELECT userid, left_at FROM {member_table} WHERE group_id = %(gid)s),
            up AS (
                INSERT INTO {member_table} AS m
                    (group_id, userid, type, member_id, name, unionid, join_time, join_scene, invitor_userid, state,
                     left_at)
                SELECT %(gid)s, i.userid, i.type, COALESCE(e.member_id, mm.id), i.name, i.unionid,
                       CASE WHEN i.join_time > 0 THEN to_timestamp(i.join_time) END, i.join_scene, i.invitor,
                       i.state, NULL
                  FROM incoming i
                  LEFT JOIN {MemberExternalId._meta.db_table} e
                         ON i.type = 'external' AND e.corp_id = %(corp)s AND e.external_userid = i.userid
                  LEFT JOIN {Member._meta.db_table} mm ON i.type = 'external' AND i.unionid <> ''
                         AND mm.unionid = i.unionid
                ON CONFLICT (group_id, userid) DO UPDATE
                   SET type = EXCLUDED.type, member_id = COALESCE(EXCLUDED.member_id, m.member_id),
                       name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE m.name END,
                       unionid = CASE WHEN EXCLUDED.unionid <> '' THEN EXCLUDED.unionid ELSE m.unionid END,
                       join_time = COALESCE(EXCLUDED.join_time, m.join_time), join_scene = EXCLUDED.join_scene,
                       invitor_userid = EXCLUDED.invitor_userid, state = EXCLUDED.state, left_at = NULL
                RETURNING m.userid),
            gone AS (
                UPDATE {member_table} SET left_at = %(at)s
                 WHERE group_id = %(gid)s AND left_at IS NULL AND NOT (userid = ANY(%(ids)s::text[]))
                RETURNING userid)
            SELECT (SELECT count(*) FROM up LEFT JOIN before b USING (userid)
                     WHERE b.userid IS NULL OR b.left_at IS NOT NULL),
                   (SELECT count(*) FROM gone)
            """,
            {"gid": group_id, "corp": corp_id, "at": at, "ids": userids, "types": types,
             "names": [str(members[u].get("name") or members[u].get("group_nickname") or "")[:64] for u in userids],
             "unionids": [str(members[u].get("unionid") or "")[:64] for u in userids],
             "join_times": [int(members[u].get("join_time") or 0) for u in userids],
             "scenes": [int(members[u].get("join_scene") or 0) for u in userids],
             "invitors": [str((members[u].get("invitor") or {}).get("userid") or "")[:64] for u in userids],
             "states": [str(members[u].get("state") or "")[:30] for u in userids]},
        )
        joined, left = cursor.fetchone()
    return {"members": len(userids), "customers": customer_count, "joined": joined, "left": left,
            "created": bool(created), "group_id": group_id}


def group_dismiss(*, brand, chat_id: str, at: dt.datetime) -> bool:
    """Mark the brand's copy dismissed and everyone in it gone. False when it was already."""
    from guides.brand.models import CustomerGroup, CustomerGroupMember, CustomerGroupStatus

    with schema_context(brand.schema_name), transaction.atomic():
        group = CustomerGroup.objects.filter(chat_id=chat_id).first()
        if group is None or group.status == CustomerGroupStatus.DISMISSED:
            return False
        CustomerGroup.objects.filter(pk=group.pk).update(status=CustomerGroupStatus.DISMISSED, dismissed_at=at)
        CustomerGroupMember.objects.filter(group=group, left_at__isnull=True).update(left_at=at)
    return True


def route_set(*, corp_id: str, chat_id: str, brand, owner_userid: str) -> int | None:
    """Point the chat at ``brand``; returns the brand id it pointed at before (None if new)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH old AS (SELECT brand_id FROM {GroupChatRoute._meta.db_table} WHERE corp_id = %s AND chat_id = %s)
            INSERT INTO {GroupChatRoute._meta.db_table} (corp_id, chat_id, brand_id, owner_userid, updated_at)
            VALUES (%s, %s, %s, %s, now())
            ON CONFLICT (corp_id, chat_id) DO UPDATE
               SET brand_id = EXCLUDED.brand_id, owner_userid = EXCLUDED.owner_userid, updated_at = now()
            RETURNING (SELECT brand_id FROM old)
            """,
            [corp_id, chat_id, corp_id, chat_id, brand.pk, owner_userid[:64]],
        )
        return cursor.fetchone()[0]


def group_refresh(*, chat_id: str, corp_id: str, at: dt.datetime, client=None,
                  wecom_status: int | None = None) -> tuple[object | None, str]:
    """Re-read one group from WeCom and write it where its owner's brand keeps it. Returns (brand, what happened).

    Raises RateLimited (the caller retries later) and WeComError other than "gone".
    """
    route = GroupChatRoute.objects.select_related("brand").filter(corp_id=corp_id, chat_id=chat_id).first()
    try:
        data = (client or mall_client()).groupchat_get(chat_id)
    except RateLimited:
        raise
    except WeComError as exc:
        if exc.errcode not in GONE_ERRCODES:
            raise
        if route is None:
            return None, f"group unknown to WeCom ({exc.errcode})"
        group_dismiss(brand=route.brand, chat_id=chat_id, at=at)
        return route.brand, f"group gone in WeCom ({exc.errcode}): dismissed"
    chat = data.get("group_chat") or {}
    owner = chat.get("owner") or ""
    guide = Guide.objects.select_related("brand", "counter").filter(wecom_userid=owner).first()
    if guide is None:
        # not invented: a group whose owner is not in the guide directory belongs to no brand
        return (route.brand if route else None), f"owner {owner} is not in the guide directory"
    counts = group_upsert(guide=guide, chat=chat, corp_id=corp_id, at=at, wecom_status=wecom_status)
    previous = route_set(corp_id=corp_id, chat_id=chat_id, brand=guide.brand, owner_userid=owner)
    moved = ""
    if previous is not None and previous != guide.brand_id and route is not None:
        group_dismiss(brand=route.brand, chat_id=chat_id, at=at)
        moved = f"; moved from brand {previous}"
    verb = "created" if counts["created"] else "updated"
    return guide.brand, (f"{verb}: {counts['members']} members ({counts['customers']} customers), "
                         f"+{counts['joined']} -{counts['left']}{moved}")


def handle_external_chat(event):
    """change_external_chat (create / update / dismiss): bring the brand's copy in step with WeCom.

    Idempotent: a repeated or late event re-reads the group as it is now. An update whose CurMemVer
    equals the stored member version was already applied (no call to WeCom); one whose LastMemVer
    differs from it shows lost events, which the re-read repairs.
    """
    from guides.brand.models import CustomerGroup

    from .services import Outcome

    fields = event.payload or {}
    chat_id = event.chat_id or fields.get("ChatId") or ""
    if not chat_id:
        return Outcome(InboxStatus.IGNORED, "no ChatId")
    at = _at(event.create_time)
    corp_id = event.corp_id or settings.WECOM_CORP_ID
    route = GroupChatRoute.objects.select_related("brand").filter(corp_id=corp_id, chat_id=chat_id).first()
    if event.change_type == "dismiss":
        if route is None:
            return Outcome(InboxStatus.IGNORED, "unknown group dismissed")
        changed = group_dismiss(brand=route.brand, chat_id=chat_id, at=at)
        return Outcome(result="dismissed" if changed else "already dismissed", brand=route.brand)
    current, last = fields.get("CurMemVer") or "", fields.get("LastMemVer") or ""
    gap = ""
    if route is not None and current:
        with schema_context(route.brand.schema_name):
            stored = CustomerGroup.objects.filter(chat_id=chat_id).values_list("member_version", flat=True).first()
        if stored == current:
            return Outcome(result=f"already at member version {current[:12]}", brand=route.brand)
        if last and stored and stored != last:
            gap = "; member version gap repaired"
    brand, result = group_refresh(chat_id=chat_id, corp_id=corp_id, at=at)
    detail = fields.get("UpdateDetail") or event.change_type
    if brand is None:
        return Outcome(InboxStatus.IGNORED, f"{detail}: {result}")
    logger.info("wecom.group_refreshed", extra={"tenant": brand.schema_name, "chat_id": chat_id})
    return Outcome(result=f"{detail}: {result}{gap}", brand=brand)
