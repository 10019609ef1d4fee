"""Channel live codes (渠道活码) and group live codes (群活码): create, deactivate, QR image, statistics.

A live code is a WeCom 「联系我」 contact way for ONE guide (type 1) shown as a QR code (scene 2)
whose ``state`` names the channel (counter poster, store entrance, an event...). WeCom echoes the
state in every add_external_contact callback, so the relationship it creates carries the channel,
and the statistics below are computed from the relationships with a few set-based statements.
Facts: ../shared/reference/wecom-api.md §3 (contact ways, state ≤ 30), §7 (join ways).

Everything that reads or writes brand rows runs in the brand's schema (the dashboard request is
already there; services enter it explicitly from the guide's brand).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import requests
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from guides.models import Guide
from scrm.errors import AppError, Conflict, NotFound
from tenants.services import audit

from .client import WeComError, mall_client

logger = logging.getLogger(__name__)

STATE_MAX_CHARS = 30  # WeCom: state ≤ 30 characters (add_contact_way / add_join_way)
NAME_MAX_CHARS = 30  # WeCom: contact-way remark ≤ 30 characters
JOIN_WAY_MAX_CHATS = 5  # WeCom: chat_id_list ≤ 5 (41091)
QR_MAX_BYTES = 2 * 1024 * 1024
SHANGHAI = "Asia/Shanghai"


class WeComUnavailable(AppError):
    status = 502
    code = "wecom_error"


def _current_brand():
    """The brand whose schema the connection is in (None in the public schema)."""
    from tenants.models import Brand

    tenant = getattr(connection, "tenant", None)
    return tenant if isinstance(tenant, Brand) else None


def _wecom_error(exc: WeComError) -> WeComUnavailable:
    return WeComUnavailable(f"WeCom refused the request ({exc.errcode} {exc.errmsg}). 企业微信返回错误：{exc.errcode}。",
                            fields={"wecom": [f"{exc.endpoint}: {exc.errcode}"]})


# --------------------------------------------------------------------------- validation

def state_validate(state: str, *, required: bool = True) -> str:
    """The channel code as WeCom will carry it, or a clear error before anything is sent to WeCom."""
    state = (state or "").strip()
    if not state:
        if required:
            raise AppError("Give the channel code (State). 请填写渠道码。", code="state_required",
                           fields={"state": ["Required. 必填。"]})
        return ""
    if len(state) > STATE_MAX_CHARS:
        raise AppError(f"The channel code (State) has {len(state)} characters; WeCom allows at most "
                       f"{STATE_MAX_CHARS}. 渠道码最多{STATE_MAX_CHARS}个字符。", code="state_too_long",
                       fields={"state": [f"At most {STATE_MAX_CHARS} characters (got {len(state)})."]})
    if state.startswith("wb:"):
        # WeCom rewrites acquisition-link states to wb:<n>:<custom>; ours must not look like one
        raise AppError("A channel code may not start with 'wb:' (reserved by WeCom). 渠道码不能以 wb: 开头。",
                       code="state_reserved", fields={"state": ["May not start with 'wb:'."]})
    if any(ord(ch) < 32 for ch in state):
        raise AppError("The channel code contains control characters. 渠道码含有非法字符。", code="state_invalid",
                       fields={"state": ["No control characters."]})
    return state


def _name_validate(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise AppError("Give the live code a name. 请填写名称。", code="name_required", fields={"name": ["Required."]})
    if len(name) > NAME_MAX_CHARS:
        raise AppError(f"The name has {len(name)} characters; at most {NAME_MAX_CHARS}. 名称最多{NAME_MAX_CHARS}个字符。",
                       code="name_too_long", fields={"name": [f"At most {NAME_MAX_CHARS} characters."]})
    return name


# --------------------------------------------------------------------------- channel live codes

def livecode_create(*, guide: Guide, state: str, name: str, kind: str = "counter", actor: str = "system"):
    """Create a guide's live code for a channel: validate, ``add_contact_way`` (type 1, scene 2), store.

    Nothing is sent to WeCom when the input is invalid. If storing fails after WeCom created the
    contact way (two managers racing on the same channel), the contact way is deleted again.
    """
    from .brand.models import LiveCode, LiveCodeKind

    state = state_validate(state)
    name = _name_validate(name)
    if kind not in LiveCodeKind.values:
        raise AppError("Unknown live code kind. 活码类型无效。", code="invalid_kind",
                       fields={"kind": [f"One of {', '.join(LiveCodeKind.values)}."]})
    if not guide.is_active:
        raise AppError("The guide has resigned. 导购已离职。", code="invalid_guide", fields={"guide": ["Not active."]})
    if not guide.brand.is_active:
        raise AppError("The brand is suspended. 品牌已停用。", code="brand_suspended")
    with schema_context(guide.brand.schema_name):
        if LiveCode.objects.filter(guide=guide, state=state, is_active=True).exists():
            raise Conflict("This guide already has an active live code for this channel. 该导购已有此渠道的活码。",
                           code="livecode_exists", fields={"state": ["Already used by an active live code."]})
        try:
            answer = mall_client().add_contact_way(type=1, scene=2, state=state, remark=name, skip_verify=True,
                                                   user=[guide.wecom_userid])
        except WeComError as exc:
            raise _wecom_error(exc) from exc
        try:
            with transaction.atomic():
                code = LiveCode.objects.create(guide=guide, state=state, name=name, kind=kind,
                                               config_id=answer["config_id"], qr_code=answer.get("qr_code", ""),
                                               created_by=actor[:120])
                audit(action="livecode.created", actor=actor, brand=guide.brand, guide_id=guide.pk, state=state,
                      config_id=code.config_id)
        except IntegrityError as exc:
            _delete_contact_way_quietly(answer["config_id"])
            raise Conflict("This guide already has an active live code for this channel. 该导购已有此渠道的活码。",
                           code="livecode_exists", fields={"state": ["Already used by an active live code."]}) from exc
    logger.info("livecode.created", extra={"tenant": guide.brand.schema_name, "guide_id": guide.pk})
    return code


def _delete_contact_way_quietly(config_id: str) -> None:
    try:
        mall_client().del_contact_way(config_id)
    except WeComError:
        logger.warning("livecode.orphan_contact_way", extra={"config_id": config_id})


def livecode_get(*, pk: int):
    """A live code of the current brand schema (the dashboard's scoped fetch)."""
    from .brand.models import LiveCode

    code = LiveCode.objects.select_related("guide").filter(pk=pk).first()
    if code is None:
        raise NotFound("Live code not found. 活码不存在。", code="livecode_not_found")
    return code


def livecode_deactivate(*, code, actor: str = "system"):
    """Stop a live code: ``del_contact_way`` in WeCom (the printed QR stops adding), keep the row for stats.

    Safe to call twice; a contact way WeCom no longer knows (41044) counts as deleted.
    """
    from .brand.models import LiveCode

    if not code.is_active:
        return code
    try:
        mall_client().del_contact_way(code.config_id)
    except WeComError as exc:
        if exc.errcode != 41044:
            raise _wecom_error(exc) from exc
    LiveCode.objects.filter(pk=code.pk, is_active=True).update(is_active=False, deactivated_at=timezone.now())
    audit(action="livecode.deactivated", actor=actor, brand=_current_brand(), guide_id=code.guide_id, config_id=code.config_id,
          state=code.state)
    code.refresh_from_db()
    return code


def live_code_channel(*, guide: Guide, state: str) -> str | None:
    """The channel of the guide's live code whose State this is, or None when no live code has it.

    For ``wecom.services.channel_from_state``: a scan of a live code carries the live code's state.
    """
    from .brand.models import LiveCode

    state = (state or "").strip()
    if not state:
        return None
    with schema_context(guide.brand.schema_name):
        found = (LiveCode.objects.filter(guide=guide, state=state).order_by("-is_active", "-id")
                 .values_list("state", flat=True).first())
    return found


# --------------------------------------------------------------------------- QR images

def qr_image(url: str) -> tuple[bytes, str]:
    """Download the QR image WeCom (or the simulator) serves at ``qr_code``. Returns (bytes, content type)."""
    if not url or not url.startswith(("http://", "https://")):
        raise NotFound("This code has no QR image. 此活码没有二维码。", code="qr_missing")
    try:
        with requests.get(url, timeout=5, stream=True) as response:
            response.raise_for_status()
            content_type = response.headers.get("Content-Type", "image/png").split(";")[0].strip()
            if not content_type.startswith("image/"):
                raise WeComUnavailable("The QR link did not return an image. 二维码地址未返回图片。", code="qr_not_image")
            body = response.raw.read(QR_MAX_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise WeComUnavailable("The QR image could not be fetched from WeCom. 无法从企业微信获取二维码。",
                               code="qr_unavailable") from exc
    if len(body) > QR_MAX_BYTES:
        raise WeComUnavailable("The QR image is too large. 二维码图片过大。", code="qr_too_large")
    return body, content_type


# --------------------------------------------------------------------------- statistics

@dataclass(frozen=True)
class DayStat:
    day: dt.date
    channel: str
    adds: int
    deletes: int

    @property
    def net(self) -> int:
        return self.adds - self.deletes


def _relationship_table() -> str:
    from guides.brand.models import Relationship

    return Relationship._meta.db_table


def _stat_table() -> str:
    from .brand.models import ChannelDailyStat

    return ChannelDailyStat._meta.db_table


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(SHANGHAI))


def channel_stats_by_day(*, days: int = 30, today: dt.date | None = None, guide_id: int | None = None,
                         state: str | None = None) -> list[DayStat]:
    """Adds, deletes and net per day (Asia/Shanghai) and channel for the last ``days`` days, newest first.

    Two sources, merged in one statement: the relationships as they are now (an add counts on the
    day of ``added_at``, a loss on the day of ``ended_at``), and the nightly snapshot table, which
    still remembers adds and losses that a later re-add overwrote in the relationship row. Per day
    and channel the larger of the two counts wins (a snapshot never lowers, the live rows are the
    newest). Runs in the current (brand) schema.
    """
    today = today or timezone.localdate()
    since_day = today - dt.timedelta(days=days - 1)
    since = _local_midnight(since_day)
    until = _local_midnight(today + dt.timedelta(days=1))
    rel, stat = _relationship_table(), _stat_table()
    filters, params = "", {"since": since, "until": until, "since_day": since_day, "today": today, "tz": SHANGHAI}
    stat_filters = ""
    if guide_id is not None:
        filters += " AND guide_id = %(guide_id)s"
        stat_filters += " AND guide_id = %(guide_id)s"
        params["guide_id"] = guide_id
    if state is not None:
        filters += " AND channel = %(channel)s"
        stat_filters += " AND channel = %(channel)s"
        params["channel"] = state
    sql = f"""
        WITH adds AS (
            SELECT (added_at AT TIME ZONE %(tz)s)::date AS day, channel, count(*) AS n
              FROM {rel} WHERE added_at >= %(since)s AND added_at < %(until)s {filters}
             GROUP BY 1, 2),
        ends AS (
            SELECT (ended_at AT TIME ZONE %(tz)s)::date AS day, channel, count(*) AS n
              FROM {rel} WHERE ended_at >= %(since)s AND ended_at < %(until)s {filters}
             GROUP BY 1, 2),
        live AS (
            SELECT COALESCE(a.day, e.day) AS day, COALESCE(a.channel, e.channel) AS channel,
                   COALESCE(a.n, 0) AS adds, COALESCE(e.n, 0) AS deletes
              FROM adds a FULL JOIN ends e ON a.day = e.day AND a.channel = e.channel),
        snap AS (
            SELECT day, channel, sum(adds) AS adds, sum(deletes) AS deletes
              FROM {stat} WHERE day BETWEEN %(since_day)s AND %(today)s {stat_filters}
             GROUP BY 1, 2)
        SELECT COALESCE(l.day, s.day), COALESCE(l.channel, s.channel),
               GREATEST(COALESCE(l.adds, 0), COALESCE(s.adds, 0)),
               GREATEST(COALESCE(l.deletes, 0), COALESCE(s.deletes, 0))
          FROM live l FULL JOIN snap s ON l.day = s.day AND l.channel = s.channel
         ORDER BY 1 DESC, 2
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [DayStat(day, channel or "", int(adds), int(deletes)) for day, channel, adds, deletes in cursor.fetchall()]


def channel_daily_table(stats: list[DayStat], *, days: int = 30, today: dt.date | None = None) -> dict:
    """The dashboard's day x channel table: every day of the window (zeros included), channels as columns."""
    today = today or timezone.localdate()
    channels = sorted({s.channel for s in stats})
    by_key = {(s.day, s.channel): s for s in stats}
    rows = []
    for offset in range(days):
        day = today - dt.timedelta(days=offset)
        cells = [by_key.get((day, channel)) for channel in channels]
        adds = sum(c.adds for c in cells if c)
        deletes = sum(c.deletes for c in cells if c)
        rows.append({"day": day, "cells": [(c.adds, c.deletes, c.net) if c else (0, 0, 0) for c in cells],
                     "adds": adds, "deletes": deletes, "net": adds - deletes})
    totals = [(sum(s.adds for s in stats if s.channel == ch), sum(s.deletes for s in stats if s.channel == ch))
              for ch in channels]
    return {"channels": channels, "rows": rows,
            "totals": [(a, d, a - d) for a, d in totals],
            "total": (sum(a for a, _ in totals), sum(d for _, d in totals),
                      sum(a for a, _ in totals) - sum(d for _, d in totals))}


def livecode_totals(codes) -> dict[int, dict]:
    """Per live code: customers it brought (adds), still served (active) and lost (ended). One query."""
    codes = list(codes)
    if not codes:
        return {}
    rel = _relationship_table()
    pairs = {(c.guide_id, c.state) for c in codes}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT r.guide_id, r.state, count(*),
                   count(*) FILTER (WHERE r.status = 'active'), count(*) FILTER (WHERE r.status = 'ended')
              FROM {rel} r
              JOIN unnest(%s::bigint[], %s::text[]) AS c(guide_id, state)
                ON r.guide_id = c.guide_id AND r.state = c.state
             GROUP BY 1, 2
            """,
            [[g for g, _ in pairs], [s for _, s in pairs]],
        )
        found = {(g, s): (n, active, ended) for g, s, n, active, ended in cursor.fetchall()}
    out = {}
    for code in codes:
        adds, active, ended = found.get((code.guide_id, code.state), (0, 0, 0))
        out[code.pk] = {"adds": adds, "active": active, "deletes": ended, "net": adds - ended}
    return out


def channel_stats_refresh(*, days: int = 2, today: dt.date | None = None) -> int:
    """Snapshot the last ``days`` days per guide and channel into ChannelDailyStat (current brand schema).

    One INSERT ... SELECT ... ON CONFLICT: re-running it changes nothing, and a recount never
    lowers a stored day (a later re-add overwrites the earlier add in the relationship row, the
    snapshot keeps it). Returns the rows written.
    """
    today = today or timezone.localdate()
    since_day = today - dt.timedelta(days=days - 1)
    rel, stat = _relationship_table(), _stat_table()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH adds AS (
                SELECT (added_at AT TIME ZONE %(tz)s)::date AS day, guide_id, channel, count(*) AS n
                  FROM {rel} WHERE added_at >= %(since)s AND added_at < %(until)s GROUP BY 1, 2, 3),
            ends AS (
                SELECT (ended_at AT TIME ZONE %(tz)s)::date AS day, guide_id, channel, count(*) AS n
                  FROM {rel} WHERE ended_at >= %(since)s AND ended_at < %(until)s GROUP BY 1, 2, 3)
            INSERT INTO {stat} (day, guide_id, channel, adds, deletes, computed_at)
            SELECT COALESCE(a.day, e.day), COALESCE(a.guide_id, e.guide_id), COALESCE(a.channel, e.channel),
                   COALESCE(a.n, 0), COALESCE(e.n, 0), now()
              FROM adds a FULL JOIN ends e ON a.day = e.day AND a.guide_id = e.guide_id AND a.channel = e.channel
            ON CONFLICT (day, guide_id, channel) DO UPDATE
               SET adds = GREATEST({stat}.adds, EXCLUDED.adds),
                   deletes = GREATEST({stat}.deletes, EXCLUDED.deletes), computed_at = now()
            """,
            {"tz": SHANGHAI, "since": _local_midnight(since_day),
             "until": _local_midnight(today + dt.timedelta(days=1))},
        )
        return cursor.rowcount


# --------------------------------------------------------------------------- group live codes

def group_livecode_create(*, name: str, chat_ids: list[str], scope: str = "brand", store=None, state: str = "",
                          auto_create_room: bool = True, room_base_name: str = "", actor: str = "system"):
    """A group live code (加入群聊) for up to five of the brand's customer groups (current brand schema).

    ``groupchat/add_join_way`` (scene 2 = QR) returns only the config id; the QR link comes from
    ``groupchat/get_join_way``. Invalid input never reaches WeCom.
    """
    from guides.brand.models import CustomerGroup, CustomerGroupStatus

    from .brand.models import GroupLiveCode, GroupLiveCodeScope

    name = _name_validate(name)
    state = state_validate(state, required=False)
    chat_ids = list(dict.fromkeys(c.strip() for c in chat_ids if c and c.strip()))
    if not chat_ids:
        raise AppError("Choose at least one customer group. 请至少选择一个客户群。", code="groups_required",
                       fields={"chat_ids": ["Required."]})
    if len(chat_ids) > JOIN_WAY_MAX_CHATS:
        raise AppError(f"A group live code takes at most {JOIN_WAY_MAX_CHATS} groups. 群活码最多关联{JOIN_WAY_MAX_CHATS}个群。",
                       code="too_many_groups", fields={"chat_ids": [f"At most {JOIN_WAY_MAX_CHATS}."]})
    known = set(CustomerGroup.objects.filter(chat_id__in=chat_ids, status=CustomerGroupStatus.NORMAL)
                .values_list("chat_id", flat=True))
    if unknown := [c for c in chat_ids if c not in known]:
        raise AppError("Some groups are not live customer groups of this brand. 部分客户群不属于本品牌或已解散。",
                       code="unknown_groups", fields={"chat_ids": unknown})
    if scope not in GroupLiveCodeScope.values:
        raise AppError("Unknown scope. 范围无效。", code="invalid_scope", fields={"scope": ["brand or store"]})
    if (scope == GroupLiveCodeScope.STORE) != (store is not None):
        raise AppError("A store group live code needs a store (and only it). 门店群活码须选择门店。", code="store_required",
                       fields={"store": ["Required for store scope, not allowed for brand scope."]})
    room_base_name = (room_base_name or "").strip()
    if len(room_base_name.encode("utf-8")) > 40:
        raise AppError("The new group name is longer than 40 bytes. 新群名称过长。", code="room_name_too_long",
                       fields={"room_base_name": ["At most 40 bytes (UTF-8)."]})
    body = {"scene": 2, "remark": name, "auto_create_room": 1 if auto_create_room else 0, "chat_id_list": chat_ids}
    if state:
        body["state"] = state
    if auto_create_room:
        body.update(room_base_name=room_base_name or name, room_base_id=1)
    client = mall_client()
    try:
        config_id = client.add_join_way(**body)["config_id"]
        qr_code = client.get_join_way(config_id).get("join_way", {}).get("qr_code", "")
    except WeComError as exc:
        raise _wecom_error(exc) from exc
    code = GroupLiveCode.objects.create(name=name, scope=scope, store=store, state=state, chat_ids=chat_ids,
                                        config_id=config_id, qr_code=qr_code, auto_create_room=auto_create_room,
                                        room_base_name=room_base_name, created_by=actor[:120])
    audit(action="group_livecode.created", actor=actor, brand=_current_brand(), config_id=config_id, chats=len(chat_ids))
    return code


def group_livecode_joins(codes) -> dict[int, tuple[int, int]]:
    """Per group live code with a channel code: customers who joined through it, and how many are still in.

    WeCom records the join way's state on each member who joined through it (groupchat/get). One query.
    """
    from django.db.models import Count, Q

    from guides.brand.models import CustomerGroupMember, CustomerGroupMemberType

    states = {c.state for c in codes if c.state}
    if not states:
        return {}
    found = {row["state"]: (row["joined"], row["still"]) for row in
             CustomerGroupMember.objects.filter(state__in=states, type=CustomerGroupMemberType.EXTERNAL)
             .values("state").annotate(joined=Count("id"), still=Count("id", filter=Q(left_at__isnull=True)))}
    return {c.pk: found.get(c.state, (0, 0)) for c in codes if c.state}


def group_livecode_get(*, pk: int):
    from .brand.models import GroupLiveCode

    code = GroupLiveCode.objects.filter(pk=pk).first()
    if code is None:
        raise NotFound("Group live code not found. 群活码不存在。", code="group_livecode_not_found")
    return code


def group_livecode_deactivate(*, code, actor: str = "system"):
    """``groupchat/del_join_way``; safe to call twice (41044 = already gone)."""
    from .brand.models import GroupLiveCode

    if not code.is_active:
        return code
    try:
        mall_client().del_join_way(code.config_id)
    except WeComError as exc:
        if exc.errcode != 41044:
            raise _wecom_error(exc) from exc
    GroupLiveCode.objects.filter(pk=code.pk, is_active=True).update(is_active=False, deactivated_at=timezone.now())
    audit(action="group_livecode.deactivated", actor=actor, brand=_current_brand(), config_id=code.config_id)
    code.refresh_from_db()
    return code
