"""Full sync of a corp (全量同步) and the nightly reconcile (夜间对账), plus the corp tag library.

Full sync, phase by phase:

1. ``follow_users`` — ``get_follow_user_list``: the WeCom members with customer contact. Each is
   mapped to a guide through the guide directory (``guides.Guide.wecom_userid``). **Unknown userids
   are reported, not invented**: they are listed in ``SyncRun.unknown_userids`` (and counted) and
   their customers are skipped, because a WeCom member who is not in the directory belongs to no
   brand until someone puts them there.
2. ``customers`` — ``batch/get_by_user`` for ≤ 100 guides per call, page by page with WeCom's
   cursor: customers are enrolled (one code, dual membership: ``member_enroll`` only for people the
   mall does not know yet; memberships, external ids and relationships are written set-based) and
   relationships upserted (created; an ended one is re-activated only when WeCom's add is newer
   than our end, so a one-way follow left by a customer who deleted the guide stays ended).
3. ``tags`` — the corp tag library (``get_corp_tag_list``) into ``CorpTag``.
4. ``groups`` — ``groupchat/list`` (by owner, ≤ 100 owners per call) and ``groupchat/get`` for each
   group, written with :func:`wecom.groups.group_upsert`.

Each page's writes and the run's new cursor commit in one transaction, so a run that stopped (a
crash, a WeCom error, a deploy) continues from its cursor and writes nothing twice
(``manage.py wecom_sync --resume``). ``45009``/``45033`` (``RateLimited``) make the run back off:
in-process sleeps for the command, a Celery retry with countdown for the task.

The nightly reconcile reads, guide by guide, every customer WeCom lists for the guide
(``batch/get_by_user``) and repairs what lost callbacks left behind: missing relationships are
created (or re-activated), relationships WeCom no longer has are ended with reason ``reconcile``,
and a remark, description or corp tags changed in the WeCom client are copied. It can not see a
customer who deleted the guide while the callback was lost: WeCom keeps such one-way follows in
its lists. What it fixed is counted (``SyncRun.counts``), listed one by one (``SyncRun.fixes``,
shown in the admin and printed by ``manage.py wecom_sync --reconcile``) and logged
(``wecom.reconcile_done``).
Facts: ../shared/reference/wecom-api.md §2.1-2.4, §2.6, §7, §10.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from guides.models import Guide
from members.models import Member, MemberExternalId
from scrm.errors import AppError

from .client import RateLimited, WeComError, mall_client
from .models import CorpTag, InboxStatus, SyncKind, SyncRun, SyncStatus

logger = logging.getLogger(__name__)

USERS_PER_CALL = 100  # batch/get_by_user userid_list ≤ 100; groupchat/list owner_filter ≤ 100
PAGE_LIMIT = 100  # batch/get_by_user limit ≤ 100
GROUP_PAGE_LIMIT = 100  # groupchat/list limit 1-1000; small pages make resuming cheap
BUSY_RETRIES = 3  # errcode -1 系统繁忙: "建议重试次数不超过3次"
RATE_STRIKES = 5  # consecutive rate-limit answers the command sleeps through before it gives up
LEASE_SECONDS = 600
MAX_ERRORS_KEPT = 50
MAX_FIXES_KEPT = 500  # the run's fix list (counts keep the totals)

PHASES = {
    SyncKind.FULL: ["follow_users", "customers", "tags", "groups", "done"],
    SyncKind.RECONCILE: ["follow_users", "reconcile", "tags", "done"],
}


class RunHeld(AppError):
    status = 409
    code = "sync_run_held"


# --------------------------------------------------------------------------- corps

def corp_client(corp_id: str | None = None):
    """The API client of a corp: the mall's (settings) or a brand's own (``wecom.Corp``, secret decrypted)."""
    if not corp_id or corp_id == settings.WECOM_CORP_ID:
        return mall_client()
    from members.identity import decrypt

    from .client import client_for
    from .models import Corp

    corp = Corp.objects.filter(corp_id=corp_id).first()
    if corp is None:
        raise AppError(f"No WeCom corp {corp_id} in the admin. 未找到该企业微信。", code="corp_not_found", status=404,
                       fields={"corp": [corp_id]})
    return client_for(corp_id=corp.corp_id, secret=decrypt(corp.secret_encrypted))


def corp_directory(corp_id: str):
    """The guides a corp's WeCom members can be: a brand corp's own brand, or every brand without one."""
    guides = Guide.objects.all()
    if corp_id and corp_id != settings.WECOM_CORP_ID:
        return guides.filter(brand__wecom_corp__corp_id=corp_id)
    return guides.filter(brand__wecom_corp__isnull=True)


# --------------------------------------------------------------------------- corp tags

def corp_tags_sync(*, corp_id: str | None = None, client=None) -> dict:
    """Bring ``CorpTag`` in step with WeCom's tag library in two statements. Idempotent.

    Tags WeCom no longer returns are marked deleted (kept, so old references stay readable).
    """
    corp_id = corp_id or settings.WECOM_CORP_ID
    data = (client or corp_client(corp_id)).get_corp_tags()
    rows = []
    for group in data.get("tag_group") or []:
        for tag in group.get("tag") or []:
            if tag.get("deleted"):
                continue
            rows.append((str(tag["id"]), str(group.get("group_id") or ""), str(group.get("group_name") or "")[:64],
                         str(tag.get("name") or "")[:64], int(tag.get("order") or 0), int(group.get("order") or 0),
                         int(tag.get("create_time") or 0)))
    table = CorpTag._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} AS t (corp_id, tag_id, group_id, group_name, name, "order", group_order, create_time,
                                      deleted, synced_at)
            SELECT %s, i.tag_id, i.group_id, i.group_name, i.name, i.ord, i.group_ord, i.create_time, false, now()
              FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[])
                   AS i(tag_id, group_id, group_name, name, ord, group_ord, create_time)
            ON CONFLICT (corp_id, tag_id) DO UPDATE
               SET group_id = EXCLUDED.group_id, group_name = EXCLUDED.group_name, name = EXCLUDED.name,
                   "order" = EXCLUDED."order", group_order = EXCLUDED.group_order,
                   create_time = EXCLUDED.create_time, deleted = false, synced_at = now()
             WHERE (t.group_id, t.group_name, t.name, t."order", t.group_order, t.deleted)
                   IS DISTINCT FROM (EXCLUDED.group_id, EXCLUDED.group_name, EXCLUDED.name, EXCLUDED."order",
                                     EXCLUDED.group_order, false)
            """,
            [corp_id, *[[row[i] for row in rows] for i in range(7)]],
        )
        changed = cursor.rowcount
        cursor.execute(
            f"UPDATE {table} SET deleted = true, synced_at = now() "
            f"WHERE corp_id = %s AND NOT deleted AND NOT (tag_id = ANY(%s::text[]))",
            [corp_id, [row[0] for row in rows]],
        )
        deleted = cursor.rowcount
    return {"tags": len(rows), "changed": changed, "deleted": deleted}


def handle_external_tag(event):
    """change_external_tag (create / update / delete / shuffle, tag or tag group): re-read the library.

    One re-read answers every change type (a shuffle changes many orders, a group delete many tags)
    and makes the handler idempotent. Rule-group tags (StrategyId) are not kept.
    """
    from .services import Outcome

    fields = event.payload or {}
    if fields.get("StrategyId"):
        return Outcome(InboxStatus.IGNORED, "rule-group (strategy) tags are not kept")
    counts = corp_tags_sync(corp_id=event.corp_id or settings.WECOM_CORP_ID)
    return Outcome(result=f"{event.change_type} {fields.get('TagType', '')} {fields.get('Id', '')}: "
                          f"{counts['tags']} tags, {counts['changed']} changed, {counts['deleted']} deleted")


# --------------------------------------------------------------------------- customers (set-based)

def _at(epoch) -> dt.datetime:
    try:
        value = int(epoch)
    except (TypeError, ValueError):
        value = 0
    return dt.datetime.fromtimestamp(value, tz=dt.UTC) if value > 0 else timezone.now()


def _channel(state: str) -> str:
    from .services import channel_from_state

    return channel_from_state(state)


def follow_details(follow: dict) -> tuple[str, str, list[str]]:
    """(remark, description, corp tag ids) of a follow entry, in either of WeCom's two shapes.

    ``batch/get_by_user`` gives ``follow_info.tag_id`` (ids); ``externalcontact/get`` gives
    ``follow_user[].tags`` (objects; type 1 = corp tag, the only kind a tag id of ours can name).
    """
    if "tag_id" in follow:
        tags = [str(t) for t in follow.get("tag_id") or [] if t]
    else:
        tags = [str(t.get("tag_id")) for t in follow.get("tags") or [] if t.get("tag_id") and int(t.get("type") or 1) == 1]
    return (str(follow.get("remark") or "")[:64], str(follow.get("description") or "")[:255],
            sorted(set(t[:64] for t in tags)))


def customers_apply(*, items: list[dict], guides: dict[str, Guide], corp_id: str, counts: Counter,
                    errors: list, actor: str = "wecom_sync", fixes: list | None = None) -> None:
    """Write one page of ``batch/get_by_user`` items (``{external_contact, follow_info}``). Idempotent.

    Known people are found set-based (external id, then unionid); only people the mall has never
    seen go through ``member_enroll`` (it allocates the member code under identity locks). Then,
    per brand, one statement creates the missing memberships and one upserts the relationships,
    each writing its audit rows in the same statement. The guide's remark, description and corp tags
    (customer details) are written on the relationship; an empty member name is filled from WeCom.
    With ``fixes``, every relationship created, re-activated or corrected is listed there.
    """
    from members.services import Identity, Profile, member_enroll

    rows = []
    for item in items:
        contact, follow = item.get("external_contact") or {}, item.get("follow_info") or {}
        euid, guide = contact.get("external_userid") or "", guides.get(follow.get("userid") or "")
        if not euid or guide is None:
            counts["customers_skipped"] += 1
            continue
        rows.append((guide, euid, contact, follow))
    counts["customers_seen"] += len(rows)
    if not rows:
        return
    euids = {euid for _, euid, _, _ in rows}
    by_euid = dict(MemberExternalId.objects.filter(corp_id=corp_id, external_userid__in=euids)
                   .values_list("external_userid", "member_id"))
    unionids = {c.get("unionid") for _, euid, c, _ in rows if euid not in by_euid and c.get("unionid")}
    by_union = dict(Member.objects.filter(unionid__in=unionids).values_list("unionid", "id")) if unionids else {}
    attach = []
    for _, euid, contact, _ in rows:
        member_id = by_union.get(contact.get("unionid") or "")
        if euid not in by_euid and member_id:
            by_euid[euid] = member_id
            attach.append(MemberExternalId(member_id=member_id, corp_id=corp_id, external_userid=euid))
    if attach:
        MemberExternalId.objects.bulk_create(attach, ignore_conflicts=True)
    for guide, euid, contact, follow in rows:
        if euid in by_euid or not guide.brand.is_active:
            continue
        gender = {1: "male", 2: "female"}.get(contact.get("gender"), "")
        try:
            result = member_enroll(
                brand=guide.brand, identity=Identity(external_userid=euid, corp_id=corp_id,
                                                     unionid=contact.get("unionid") or ""),
                profile=Profile(name=contact.get("name") or "", gender=gender),
                guide=guide if guide.is_active else None, channel=_channel(follow.get("state") or ""), actor=actor)
        except AppError as exc:
            counts["errors"] += 1
            _error(errors, f"{euid}: {exc.code} {exc.message}")
            continue
        by_euid[euid] = result.member.pk
        counts["members_created"] += int(result.member_created)
        counts["memberships_created"] += int(result.membership_created)
    counts["member_names_filled"] += _names_fill(rows=rows, by_euid=by_euid)
    per_brand: dict[int, list] = defaultdict(list)
    brands = {}
    for guide, euid, _contact, follow in rows:
        if not guide.brand.is_active:
            counts["skipped_brand_suspended"] += 1  # as the add callback: a suspended brand enrols nobody
            continue
        if euid not in by_euid:
            continue  # enrolment refused (counted in errors)
        brands[guide.brand_id] = guide.brand
        per_brand[guide.brand_id].append((guide, euid, by_euid[euid], follow))
    for brand_id, brand_rows in per_brand.items():
        _brand_apply(brand=brands[brand_id], rows=brand_rows, counts=counts, actor=actor, fixes=fixes)


def _names_fill(*, rows: list, by_euid: dict) -> int:
    """Fill the names of known members who have none yet from WeCom (never overwrite one). One statement."""
    names = {}
    for _guide, euid, contact, _follow in rows:
        if euid in by_euid and contact.get("name"):
            names[by_euid[euid]] = str(contact["name"])[:50]
    if not names:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Member._meta.db_table} m SET name = i.name, updated_at = now() "
            f"FROM unnest(%s::bigint[], %s::text[]) AS i(id, name) WHERE m.id = i.id AND m.name = ''",
            [list(names), list(names.values())],
        )
        return cursor.rowcount


def _brand_apply(*, brand, rows: list, counts: Counter, actor: str, fixes: list | None = None) -> None:
    from guides.brand.models import Relationship
    from members.brand.models import BrandMember
    from tenants.models import AuditEvent

    seen, source_guides, rel_guides, member_ids, euids, channels, states, added = set(), [], [], [], [], [], [], []
    remarks, descriptions, tags, userids = [], [], [], {}
    for guide, euid, member_id, follow in rows:
        if (guide.pk, member_id) in seen:
            continue  # one upsert may not touch a row twice
        seen.add((guide.pk, member_id))
        state = str(follow.get("state") or "")
        source_guides.append(guide.pk if guide.is_active else None)  # as member_enroll: no resigned source
        rel_guides.append(guide.pk)
        member_ids.append(member_id)
        euids.append(euid)
        states.append(state[:64])
        channels.append(_channel(state)[:64])
        added.append(_at(follow.get("createtime")))
        remark, description, tag_ids = follow_details(follow)
        remarks.append(remark)
        descriptions.append(description)
        tags.append(json.dumps(tag_ids))
        userids[(guide.pk, member_id)] = (guide.wecom_userid, euid)
    audit, membership, rel = AuditEvent._meta.db_table, BrandMember._meta.db_table, Relationship._meta.db_table
    with schema_context(brand.schema_name), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH incoming AS (
                SELECT * FROM unnest(%(members)s::bigint[], %(added)s::timestamptz[], %(guides)s::bigint[],
                                     %(channels)s::text[]) AS t(member_id, joined_at, guide_id, channel)),
            ins AS (
                INSERT INTO {membership} (member_id, joined_at, source_guide_id, source_channel, tags, notes, status,
                                          updated_at)
                SELECT DISTINCT ON (member_id) member_id, joined_at, guide_id, channel, '{{}}', '', 'active', now()
                  FROM incoming ORDER BY member_id, joined_at
                ON CONFLICT (member_id) DO NOTHING
                RETURNING member_id, source_guide_id, source_channel)
            INSERT INTO {audit} (at, action, actor, brand_id, member_id, guide_id, data)
            SELECT now(), 'member.enrolled', %(actor)s, %(brand)s, member_id, source_guide_id,
                   jsonb_build_object('channel', source_channel, 'member_created', false, 'source', 'wecom_sync')
              FROM ins
            """,
            {"members": member_ids, "added": added, "guides": source_guides, "channels": channels, "actor": actor,
             "brand": brand.pk},
        )
        counts["memberships_created"] += cursor.rowcount
        # One upsert: new pairs are created; an ended pair is re-activated only when WeCom's add is newer
        # than our end (a one-way follow left by a customer who deleted the guide stays ended); an
        # active pair whose remark, description or tags differ is corrected. ``old_status`` is read
        # in the same snapshot, so each returned row says which of the three it was.
        cursor.execute(
            f"""
            WITH incoming AS (
                SELECT t.guide_id, t.member_id, t.euid, t.channel, t.state, t.added_at, t.remark, t.description,
                       ARRAY(SELECT jsonb_array_elements_text(t.tags))::varchar(64)[] AS tag_ids, o.status AS old_status
                  FROM unnest(%(guides)s::bigint[], %(members)s::bigint[], %(euids)s::text[], %(channels)s::text[],
                              %(states)s::text[], %(added)s::timestamptz[], %(remarks)s::text[],
                              %(descriptions)s::text[], %(tags)s::jsonb[])
                       AS t(guide_id, member_id, euid, channel, state, added_at, remark, description, tags)
                  LEFT JOIN {rel} o ON o.guide_id = t.guide_id AND o.member_id = t.member_id),
            up AS (
                INSERT INTO {rel} AS r (guide_id, member_id, external_userid, channel, state, readded_count, added_at,
                                        status, ended_at, ended_reason, remark, description, tag_ids)
                SELECT guide_id, member_id, euid, channel, state, 0, added_at, 'active', NULL, '', remark,
                       description, tag_ids
                  FROM incoming
                ON CONFLICT (guide_id, member_id) DO UPDATE
                   SET status = 'active', ended_at = NULL, ended_reason = '',
                       added_at = CASE WHEN r.status <> 'active' THEN EXCLUDED.added_at ELSE r.added_at END,
                       channel = CASE WHEN r.status <> 'active' THEN COALESCE(NULLIF(EXCLUDED.channel, ''), r.channel)
                                      ELSE r.channel END,
                       state = CASE WHEN r.status <> 'active' THEN EXCLUDED.state ELSE r.state END,
                       readded_count = r.readded_count + (r.status <> 'active')::int,
                       external_userid = COALESCE(NULLIF(r.external_userid, ''), EXCLUDED.external_userid),
                       remark = EXCLUDED.remark, description = EXCLUDED.description, tag_ids = EXCLUDED.tag_ids
                 WHERE (r.status <> 'active' AND (r.ended_at IS NULL OR r.ended_at < EXCLUDED.added_at))
                    OR (r.status = 'active' AND (r.remark, r.description, r.tag_ids)
                        IS DISTINCT FROM (EXCLUDED.remark, EXCLUDED.description, EXCLUDED.tag_ids))
                RETURNING r.guide_id, r.member_id, r.channel, (xmax = 0) AS created),
            classified AS (
                SELECT up.guide_id, up.member_id, up.channel,
                       CASE WHEN up.created THEN 'relationship.created'
                            WHEN i.old_status <> 'active' THEN 'relationship.reactivated'
                            ELSE 'relationship.details_updated' END AS action
                  FROM up JOIN incoming i ON i.guide_id = up.guide_id AND i.member_id = up.member_id)
            INSERT INTO {audit} (at, action, actor, brand_id, member_id, guide_id, data)
            SELECT now(), action, %(actor)s, %(brand)s, member_id, guide_id, jsonb_build_object('channel', channel)
              FROM classified
            RETURNING action, guide_id, member_id
            """,
            {"guides": rel_guides, "members": member_ids, "euids": euids, "channels": channels, "states": states,
             "added": added, "remarks": remarks, "descriptions": descriptions, "tags": tags, "actor": actor,
             "brand": brand.pk},
        )
        changed = cursor.fetchall()
    actions = Counter(row[0] for row in changed)
    counts["relationships_created"] += actions["relationship.created"]
    counts["relationships_reactivated"] += actions["relationship.reactivated"]
    counts["relationships_details_updated"] += actions["relationship.details_updated"]
    if fixes is not None:
        what = {"relationship.created": "added", "relationship.reactivated": "reactivated",
                "relationship.details_updated": "details"}
        for action, guide_id, member_id in sorted(changed, key=lambda row: (row[1], row[2])):
            userid, euid = userids[(guide_id, member_id)]
            fixes.append({"fix": what[action], "guide": userid, "external_userid": euid})


def _error(errors: list, text: str) -> None:
    errors.append({"at": timezone.now().isoformat(timespec="seconds"), "error": text[:300]})
    del errors[:-MAX_ERRORS_KEPT]


# --------------------------------------------------------------------------- runs

def sync_start(*, kind: str = SyncKind.FULL, corp_id: str | None = None) -> SyncRun:
    """A new run at its first phase (nothing is called yet)."""
    return SyncRun.objects.create(corp_id=corp_id or settings.WECOM_CORP_ID, kind=kind, phase=PHASES[kind][0],
                                  cursor={}, counts={}, errors=[])


def sync_unfinished(*, kind: str = SyncKind.FULL, corp_id: str | None = None) -> SyncRun | None:
    """The latest run of this kind that has not finished (to resume), if any."""
    return (SyncRun.objects.filter(corp_id=corp_id or settings.WECOM_CORP_ID, kind=kind)
            .exclude(status=SyncStatus.DONE).order_by("-id").first())


def _claim(run_id: int, *, force: bool) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {SyncRun._meta.db_table}
               SET status = 'running', resume_at = NULL, updated_at = now(),
                   locked_until = now() + make_interval(secs => %s)
             WHERE id = %s AND status <> 'done' AND (%s OR locked_until IS NULL OR locked_until < now())
            RETURNING id
            """,
            [LEASE_SECONDS, run_id, force],
        )
        return cursor.fetchone() is not None


class _Runner:
    def __init__(self, run: SyncRun, client, progress: Callable | None):
        self.run, self.client, self.progress = run, client, progress
        self.guides: dict[str, Guide] | None = None

    # -- persistence (always inside the page's transaction) --------------------------------------
    def save(self, *, cursor: dict | None = None, phase: str | None = None, counts: Counter | None = None,
             errors: list | None = None, fixes: list | None = None) -> None:
        run = self.run
        if cursor is not None:
            run.cursor = cursor
        if phase is not None:
            run.phase = phase
        if counts:
            merged = Counter(run.counts)
            merged.update(counts)
            run.counts = {key: value for key, value in merged.items() if value}
        if errors is not None:
            run.errors = errors
        if fixes:
            run.fixes = (list(run.fixes) + fixes)[:MAX_FIXES_KEPT]
        run.locked_until = timezone.now() + dt.timedelta(seconds=LEASE_SECONDS)
        run.save(update_fields=["cursor", "phase", "counts", "errors", "fixes", "locked_until", "updated_at"])

    def next_phase(self) -> str:
        phases = PHASES[self.run.kind]
        return phases[phases.index(self.run.phase) + 1]

    def guide_map(self) -> dict[str, Guide]:
        if self.guides is None:
            userids = self.run.cursor.get("userids") or []
            self.guides = {g.wecom_userid: g for g in corp_directory(self.run.corp_id).select_related("brand", "counter")
                           .filter(wecom_userid__in=userids)}
        return self.guides

    # -- WeCom calls: -1 (system busy) is retried a few times; rate limits go up to the engine --------
    def call(self, fn, *args, **kwargs):
        pause = float(getattr(settings, "WECOM_SYNC_RETRY_SECONDS", 0.5))
        for attempt in range(BUSY_RETRIES + 1):
            try:
                return fn(*args, **kwargs)
            except RateLimited:
                raise
            except WeComError as exc:
                if exc.errcode not in (-1, None) or attempt == BUSY_RETRIES:
                    raise
                time.sleep(pause * (attempt + 1))
        raise AssertionError("unreachable")

    # -- phases: each call does one unit of work (a page, a guide) and commits it with the cursor ---
    def step(self) -> None:
        getattr(self, f"step_{self.run.phase}")()

    def step_follow_users(self) -> None:
        data = self.call(self.client.get, "externalcontact/get_follow_user_list")
        follow_users = sorted(set(data.get("follow_user") or []))
        known = sorted(corp_directory(self.run.corp_id).filter(wecom_userid__in=follow_users)
                       .values_list("wecom_userid", flat=True))
        unknown = sorted(set(follow_users) - set(known))
        if unknown:
            logger.warning("wecom.sync_unknown_userids", extra={"count": len(unknown), "run_id": self.run.pk})
        counts = Counter(follow_users=len(follow_users), guides=len(known), unknown_userids=len(unknown))
        fixes = []
        if self.run.kind == SyncKind.RECONCILE:
            # A lost delete_user leaves a guide active here whom WeCom no longer lists. Reported, not
            # resigned: resigning starts a customer handover, which a person should decide on.
            missing = sorted(corp_directory(self.run.corp_id).filter(status="active")
                             .exclude(wecom_userid__in=follow_users).values_list("wecom_userid", flat=True))
            counts["guides_not_in_wecom"] = len(missing)
            fixes = [{"fix": "not_in_wecom", "guide": userid, "external_userid": ""} for userid in missing]
        with transaction.atomic():
            self.run.unknown_userids = unknown[:1000]
            self.run.save(update_fields=["unknown_userids"])
            self.save(cursor={"userids": known, "chunk": 0, "page_cursor": "", "index": 0},
                      phase=self.next_phase(), counts=counts, fixes=fixes)

    def _chunk(self, key: str = "chunk") -> list[str] | None:
        userids = self.run.cursor.get("userids") or []
        chunk = int(self.run.cursor.get(key) or 0)
        batch = userids[chunk * USERS_PER_CALL:(chunk + 1) * USERS_PER_CALL]
        return batch or None

    def step_customers(self) -> None:
        cursor = dict(self.run.cursor)
        batch = self._chunk()
        if batch is None:
            with transaction.atomic():
                self.save(cursor={**cursor, "chunk": 0, "page_cursor": ""}, phase=self.next_phase())
            return
        page_cursor = cursor.get("page_cursor") or ""
        try:
            data = self.call(self.client.batch_get_by_user, batch, page_cursor, PAGE_LIMIT)
        except WeComError as exc:
            if isinstance(exc, RateLimited) or not page_cursor or exc.errcode in (-1, None):
                raise
            # a saved cursor WeCom no longer accepts: read this chunk again from its start (idempotent)
            errors = list(self.run.errors)
            _error(errors, f"cursor refused ({exc.errcode}); chunk {cursor.get('chunk')} restarted")
            with transaction.atomic():
                self.save(cursor={**cursor, "page_cursor": ""}, errors=errors)
            return
        counts, errors = Counter(pages=1), list(self.run.errors)
        next_cursor = data.get("next_cursor") or ""
        with transaction.atomic():
            customers_apply(items=data.get("external_contact_list") or [], guides=self.guide_map(),
                            corp_id=self.run.corp_id, counts=counts, errors=errors)
            if next_cursor:
                cursor["page_cursor"] = next_cursor
            else:
                cursor.update(chunk=int(cursor.get("chunk") or 0) + 1, page_cursor="")
            self.save(cursor=cursor, counts=counts, errors=errors)

    def step_tags(self) -> None:
        result = self.call(corp_tags_sync, corp_id=self.run.corp_id, client=self.client)
        with transaction.atomic():
            self.save(phase=self.next_phase(), counts=Counter(tags=result["tags"], tags_changed=result["changed"],
                                                              tags_deleted=result["deleted"]))

    def step_groups(self) -> None:
        from .groups import group_refresh

        cursor = dict(self.run.cursor)
        batch = self._chunk("group_chunk")
        if batch is None:
            with transaction.atomic():
                self.save(phase=self.next_phase())
            return
        page_cursor = cursor.get("group_cursor") or ""
        data = self.call(self.client.groupchat_list, cursor=page_cursor, limit=GROUP_PAGE_LIMIT, owners=batch)
        counts, now = Counter(), timezone.now()
        for item in data.get("group_chat_list") or []:
            brand, _result = self.call(group_refresh, chat_id=item["chat_id"], corp_id=self.run.corp_id, at=now,
                                       client=self.client, wecom_status=int(item.get("status") or 0))
            counts["groups" if brand is not None else "groups_skipped"] += 1
        next_cursor = data.get("next_cursor") or ""
        if next_cursor:
            cursor["group_cursor"] = next_cursor
        else:
            cursor.update(group_chunk=int(cursor.get("group_chunk") or 0) + 1, group_cursor="")
        with transaction.atomic():
            self.save(cursor=cursor, counts=counts)

    def step_reconcile(self) -> None:
        """One guide: read every customer of theirs from WeCom (``batch/get_by_user``, 100 a page) and repair.

        ``batch/get_by_user`` rather than ``externalcontact/list``: only ``follow_info`` shows a remark or
        tags changed while the callback was lost, and the pages bring the details of missing customers
        too (no ``externalcontact/get`` per customer). A guide is one unit of work: a crash mid-guide
        reads that guide again, which writes nothing twice.
        """
        cursor = dict(self.run.cursor)
        userids = cursor.get("userids") or []
        index = int(cursor.get("index") or 0)
        if index >= len(userids):
            with transaction.atomic():
                self.save(phase=self.next_phase())
            return
        userid = userids[index]
        guide = self.guide_map().get(userid)
        counts, errors, fixes = Counter(guides_reconciled=1), list(self.run.errors), []
        if guide is not None and guide.brand.is_active:
            fetched_at = timezone.now()
            items = self._all_customers_of(userid)
            in_wecom = {(i.get("external_contact") or {}).get("external_userid") for i in items} - {None, ""}
            _ours, unverifiable = _active_external_ids(guide=guide, corp_id=self.run.corp_id)
            with transaction.atomic():
                customers_apply(items=items, guides={userid: guide}, corp_id=self.run.corp_id, counts=counts,
                                errors=errors, actor="wecom_reconcile", fixes=fixes)
                ended = _end_vanished(guide=guide, corp_id=self.run.corp_id, in_wecom=in_wecom,
                                      fetched_at=fetched_at)
                counts["relationships_ended"] += len(ended)
                fixes += [{"fix": "ended", "guide": userid, "external_userid": euid} for euid in ended]
                counts["unverifiable"] += unverifiable
                counts.pop("customers_seen", None)
                counts["customers_compared"] += len(in_wecom)
                self.save(cursor={**cursor, "index": index + 1}, counts=counts, errors=errors, fixes=fixes)
            return
        with transaction.atomic():
            self.save(cursor={**cursor, "index": index + 1}, counts=counts)

    def _all_customers_of(self, userid: str) -> list[dict]:
        """Every ``{external_contact, follow_info}`` WeCom lists for this guide, page by page."""
        items, page_cursor = [], ""
        while True:
            data = self.call(self.client.batch_get_by_user, [userid], page_cursor, PAGE_LIMIT)
            items += data.get("external_contact_list") or []
            page_cursor = data.get("next_cursor") or ""
            if not page_cursor:
                return items

    def step_done(self) -> None:  # pragma: no cover - the loop stops before
        return None


def _active_external_ids(*, guide: Guide, corp_id: str) -> tuple[set[str], int]:
    """External ids of the guide's active relationships, and how many have none we could compare."""
    from guides.brand.models import Relationship

    sql = f"""
        SELECT COALESCE(NULLIF(r.external_userid, ''),
                        (SELECT e.external_userid FROM {MemberExternalId._meta.db_table} e
                          WHERE e.member_id = r.member_id AND e.corp_id = %s ORDER BY e.id LIMIT 1))
          FROM {Relationship._meta.db_table} r WHERE r.guide_id = %s AND r.status = 'active'
    """
    with schema_context(guide.brand.schema_name), connection.cursor() as cursor:
        cursor.execute(sql, [corp_id, guide.pk])
        values = [row[0] for row in cursor.fetchall()]
    return {v for v in values if v}, sum(1 for v in values if not v)


def _end_vanished(*, guide: Guide, corp_id: str, in_wecom: set[str], fetched_at: dt.datetime) -> list[str]:
    """End (reason ``reconcile``) the guide's active relationships WeCom no longer lists; their external ids.

    Only relationships added before WeCom's list was read: one added meanwhile may be missing
    from the list without being gone.
    """
    from guides.brand.models import Relationship
    from tenants.models import AuditEvent

    rel = Relationship._meta.db_table
    with schema_context(guide.brand.schema_name), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH candidates AS (
                SELECT r.id, COALESCE(NULLIF(r.external_userid, ''),
                                      (SELECT e.external_userid FROM {MemberExternalId._meta.db_table} e
                                        WHERE e.member_id = r.member_id AND e.corp_id = %(corp)s
                                        ORDER BY e.id LIMIT 1)) AS euid
                  FROM {rel} r
                 WHERE r.guide_id = %(guide)s AND r.status = 'active' AND r.added_at < %(fetched)s),
            gone AS (
                UPDATE {rel} r SET status = 'ended', ended_at = now(), ended_reason = 'reconcile'
                  FROM candidates c
                 WHERE r.id = c.id AND c.euid IS NOT NULL AND NOT (c.euid = ANY(%(in_wecom)s::text[]))
                RETURNING r.member_id, r.guide_id, c.euid),
            audited AS (
                INSERT INTO {AuditEvent._meta.db_table} (at, action, actor, brand_id, member_id, guide_id, data)
                SELECT now(), 'relationship.ended', 'wecom_reconcile', %(brand)s, member_id, guide_id,
                       jsonb_build_object('reason', 'reconcile')
                  FROM gone)
            SELECT euid FROM gone ORDER BY euid
            """,
            {"corp": corp_id, "guide": guide.pk, "fetched": fetched_at, "in_wecom": sorted(in_wecom),
             "brand": guide.brand_id},
        )
        return [row[0] for row in cursor.fetchall()]


def _backoff(strike: int) -> float:
    base = float(getattr(settings, "WECOM_SYNC_BACKOFF_SECONDS", 5.0))
    return min(300.0, base * 2 ** (strike - 1))


def sync_execute(run_id: int, *, progress: Callable | None = None, wait_on_rate_limit: bool = True,
                 force: bool = False, client=None) -> SyncRun:
    """Run (or continue) a sync run to the end. Returns the finished run.

    ``progress(run)`` is called after every committed unit of work. On ``RateLimited`` it sleeps
    and retries (``wait_on_rate_limit``) up to a few times; otherwise, or after that, the run is left
    ``waiting`` with ``resume_at`` and the exception propagates (a Celery task retries later). Any
    other error leaves it ``failed`` with its cursor, ready to ``--resume``, and propagates.
    Raises :class:`RunHeld` when another process is executing the run.
    """
    if not _claim(run_id, force=force):
        run = SyncRun.objects.filter(pk=run_id).first()
        if run is None:
            raise AppError(f"No sync run {run_id}.", code="sync_run_not_found", status=404)
        if run.status == SyncStatus.DONE:
            return run
        raise RunHeld(f"Sync run #{run_id} is being executed elsewhere (until {run.locked_until:%H:%M:%S}). "
                      f"同步任务正在执行中。")
    run = SyncRun.objects.get(pk=run_id)
    try:
        client = client or corp_client(run.corp_id)
    except AppError:
        SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.FAILED, locked_until=None)
        raise
    runner = _Runner(run, client, progress)
    strikes = 0
    try:
        while run.phase != "done":
            try:
                runner.step()
                strikes = 0
            except RateLimited as exc:
                strikes += 1
                delay = _backoff(strikes)
                if wait_on_rate_limit and strikes <= RATE_STRIKES:
                    logger.warning("wecom.sync_rate_limited", extra={"run_id": run.pk, "sleep": delay})
                    SyncRun.objects.filter(pk=run.pk).update(counts={**run.counts, "rate_limited": int(
                        run.counts.get("rate_limited", 0)) + 1})
                    run.refresh_from_db(fields=["counts"])
                    time.sleep(delay)
                    continue
                errors = list(run.errors)
                _error(errors, f"rate limited ({exc.errcode}) in {run.phase}; resumes after {delay:.0f}s")
                SyncRun.objects.filter(pk=run.pk).update(
                    status=SyncStatus.WAITING, locked_until=None, errors=errors,
                    resume_at=timezone.now() + dt.timedelta(seconds=delay))
                raise
            if progress:
                progress(run)
    except RateLimited:
        raise
    except BaseException as exc:
        errors = list(run.errors)
        _error(errors, f"{run.phase}: {exc.__class__.__name__}: {exc}")
        SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.FAILED, locked_until=None, errors=errors)
        logger.error("wecom.sync_failed", extra={"run_id": run.pk, "phase": run.phase})
        raise
    SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.DONE, locked_until=None, finished_at=timezone.now())
    run.refresh_from_db()
    event = "wecom.reconcile_done" if run.kind == SyncKind.RECONCILE else "wecom.sync_done"
    logger.info(event, extra={"run_id": run.pk, **{f"count_{k}": v for k, v in run.counts.items()}})
    return run


FIX_LABELS = (("relationships_created", "added"), ("relationships_reactivated", "re-activated"),
              ("relationships_ended", "ended"), ("relationships_details_updated", "details corrected"),
              ("member_names_filled", "names filled"),
              ("guides_not_in_wecom", "directory guides not in WeCom (reported, not resigned)"))


def fixed_summary(run: SyncRun) -> str:
    """What the run repaired, in one line (``3 added, 1 ended``); empty when nothing."""
    return ", ".join(f"{run.counts[key]} {label}" for key, label in FIX_LABELS if run.counts.get(key))


def sync_progress(run: SyncRun) -> tuple[float, str]:
    """(fraction done 0-1, one-line description) for a progress bar or the admin."""
    phases = PHASES[run.kind]
    if run.phase == "done" or run.status == SyncStatus.DONE:
        return 1.0, "done"
    index = phases.index(run.phase) if run.phase in phases else 0
    userids = len(run.cursor.get("userids") or [])
    within, detail = 0.0, ""
    chunks = max(1, -(-userids // USERS_PER_CALL))
    if run.phase == "customers":
        within = min(1.0, int(run.cursor.get("chunk") or 0) / chunks)
        detail = f"guides {min(userids, int(run.cursor.get('chunk') or 0) * USERS_PER_CALL)}/{userids}"
    elif run.phase == "groups":
        within = min(1.0, int(run.cursor.get("group_chunk") or 0) / chunks)
    elif run.phase == "reconcile":
        done = int(run.cursor.get("index") or 0)
        within, detail = (done / userids if userids else 0.0), f"guides {done}/{userids}"
    counts = run.counts
    summary = ", ".join(f"{k} {counts[k]}" for k in ("customers_seen", "members_created", "relationships_created",
                                                      "relationships_reactivated", "relationships_ended", "groups",
                                                      "tags") if counts.get(k))
    text = " · ".join(part for part in (run.phase, detail, summary) if part)
    return (index + within) / (len(phases) - 1), text
