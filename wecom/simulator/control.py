"""The /sim/ control API: the simulator acting as customers, admins, members and time.

Not part of WeCom. JSON in, JSON out: `{"ok": true, ...}` or `{"ok": false, "error": CODE, "message": ...}`
with a 4xx status. See README.md for the list.
"""

from __future__ import annotations

import copy
import html
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from .config import OUTCOMES
from .core import ControlError, Simulator
from .crypto import WeComCrypto, random_nonce


class Response:
    """A non-JSON answer (HTML page, image, redirect)."""

    def __init__(self, body: bytes | str, content_type: str = "text/html; charset=utf-8", status: int = 200,
                 headers: dict[str, str] | None = None):
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.content_type = content_type
        self.status = status
        self.headers = headers or {}


ROUTES: list[tuple[str, re.Pattern, Callable]] = []


def route(method: str, pattern: str):
    def register(func):
        ROUTES.append((method, re.compile("^" + pattern + "$"), func))
        return func
    return register


def dispatch(sim: Simulator, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> Any:
    path = path.rstrip("/") or "/sim"
    allowed = False
    for route_method, pattern, func in ROUTES:
        match = pattern.match(path)
        if match:
            allowed = True
            if route_method == method:
                return func(sim, query, body, **{k: urllib.parse.unquote(v) for k, v in match.groupdict().items()})
    if allowed:
        raise ControlError(f"{method} not allowed on {path}", "method_not_allowed", 405)
    raise ControlError(f"no control endpoint {path}", "not_found", 404)


def _require(body: dict, *names: str) -> None:
    missing = [n for n in names if body.get(n) in (None, "")]
    if missing:
        raise ControlError(f"missing field(s): {', '.join(missing)}", "missing_field")


def _copy(obj: Any) -> Any:
    return copy.deepcopy(obj)


def _member_out(sim: Simulator, member: dict) -> dict:
    out = _copy(member)
    out["customer_count"] = sim.customer_count(member["userid"])
    return out


# ====================================================================================== meta
@route("GET", "/sim")
def index(sim: Simulator, query, body):
    return {"routes": sorted({f"{m} {p.pattern.strip('^$')}" for m, p, _ in ROUTES}),
            "api_base_url": sim.config.base_url + "/cgi-bin/", "now": sim.now()}


@route("GET", "/sim/health")
def health(sim: Simulator, query, body):
    return {"status": "ok", "corp_id": sim.config.corp_id, "now": sim.now(),
            "pending_deliveries": sim.dispatcher.pending if sim.dispatcher else 0}


@route("GET", "/sim/config")
def get_config(sim: Simulator, query, body):
    return {"config": sim.config.public()}


@route("POST", "/sim/config")
def set_config(sim: Simulator, query, body):
    values = dict(body)
    force = values.pop("force_errors", None)
    try:
        changed = sim.config.update(values)
    except (ValueError, TypeError) as exc:
        raise ControlError(str(exc), "invalid_config") from exc
    if force is not None:
        for rule in force if isinstance(force, list) else [force]:
            _add_fail(sim, rule)
        changed.append("force_errors")
    sim.changed()
    return {"changed": changed, "config": sim.config.public()}


@route("POST", "/sim/reset")
def reset(sim: Simulator, query, body):
    sim.reset(clear_log=bool(body.get("clear_log", True)), keep_tokens=bool(body.get("keep_tokens", True)))
    return {}


@route("GET", "/sim/state")
def state(sim: Simulator, query, body):
    data = sim.dump()
    data["follows"] = [dict(f) for f in data["follows"]]
    sections = query.get("sections")
    data["now"] = sim.now()
    data["unassigned"] = [{k: v for k, v in r.items() if k != "_key"} for r in sim.unassigned()]
    data.pop("tokens", None)
    if sections:
        wanted = set(sections.split(","))
        data = {k: v for k, v in data.items() if k in wanted or k == "now"}
    return _copy(data)


@route("GET", "/sim/stats")
def stats(sim: Simulator, query, body):
    return {"members": len(sim.members), "customers": len(sim.customers), "follows": len(sim.follows),
            "groupchats": len(sim.groupchats), "contact_ways": len(sim.contact_ways), "join_ways": len(sim.join_ways),
            "transfers": len(sim.transfers), "welcome_messages": len(sim.welcome_messages),
            "calls": _copy(sim.call_counts), "pending_deliveries": sim.dispatcher.pending if sim.dispatcher else 0}


# ====================================================================================== clock / tokens / errors
@route("GET", "/sim/clock")
def clock(sim: Simulator, query, body):
    return {"now": sim.now(), "frozen": sim.frozen}


@route("POST", "/sim/clock/advance")
def clock_advance(sim: Simulator, query, body):
    _require(body, "seconds")
    seconds = float(body["seconds"])
    if seconds < 0:
        raise ControlError("seconds must be >= 0 (time does not run backwards)", "invalid_seconds")
    return {"now": sim.advance(seconds), "frozen": sim.frozen}


@route("POST", "/sim/clock/set")
def clock_set(sim: Simulator, query, body):
    _require(body, "time")
    return {"now": sim.set_time(float(body["time"])), "frozen": sim.frozen}


@route("POST", "/sim/clock/freeze")
def clock_freeze(sim: Simulator, query, body):
    return {"now": sim.freeze(bool(body.get("frozen", True))), "frozen": sim.frozen}


@route("POST", "/sim/tokens/invalidate")
def tokens_invalidate(sim: Simulator, query, body):
    kind = body.get("kind") or "all"
    if kind not in ("all", "contact", "agent"):
        raise ControlError("kind must be all, contact or agent", "invalid_kind")
    return {"invalidated": sim.invalidate_tokens(kind)}


def _add_fail(sim: Simulator, rule: dict) -> dict:
    if not isinstance(rule, dict):
        raise ControlError("a forced error is an object {endpoint, errcode, count}", "invalid_rule")
    _require(rule, "endpoint", "errcode")
    endpoint = str(rule["endpoint"]).strip("/")
    if endpoint.startswith("cgi-bin/"):
        endpoint = endpoint[len("cgi-bin/"):]
    count = rule.get("count", 1)
    return sim.add_forced_error(endpoint, int(rule["errcode"]), None if count is None else int(count),
                                rule.get("errmsg"), rule.get("http_status"), rule.get("delay"))


@route("POST", "/sim/fail")
def fail(sim: Simulator, query, body):
    """Force the next `count` calls of `endpoint` ("*" = any) to fail with `errcode`."""
    rule = _add_fail(sim, body)
    return {"rule": dict(rule), "rules": [dict(r) for r in sim.forced_errors]}


@route("GET", "/sim/fail")
def fail_list(sim: Simulator, query, body):
    return {"rules": [dict(r) for r in sim.forced_errors]}


@route("POST", "/sim/fail/clear")
def fail_clear(sim: Simulator, query, body):
    sim.forced_errors.clear()
    return {}


# ====================================================================================== members
@route("GET", "/sim/members")
def members_list(sim: Simulator, query, body):
    return {"members": [_member_out(sim, m) for m in sorted(sim.members.values(), key=lambda m: m["seq"])]}


@route("POST", "/sim/members")
def members_upsert(sim: Simulator, query, body):
    """Create/update one member ({userid, ...}) or many ({"members": [...]}). silent: no change_contact."""
    silent = bool(body.get("silent", False))
    items = body.get("members") if "members" in body else [body]
    if not isinstance(items, list):
        raise ControlError("members must be a list", "invalid_members")
    out = []
    for item in items:
        member, created = sim.upsert_member(item, silent=silent)
        out.append({**_member_out(sim, member), "created": created})
    return {"members": out} if "members" in body else {"member": out[0]}


@route("POST", "/sim/departments")
def departments_upsert(sim: Simulator, query, body):
    items = body.get("departments") if "departments" in body else [body]
    for item in items:
        _require(item, "id")
        dept = int(item["id"])
        sim.departments[dept] = {"id": dept, "name": str(item.get("name") or f"部门{dept}"),
                                 "name_en": str(item.get("name_en") or ""),
                                 "parentid": int(item.get("parentid", 1 if dept != 1 else 0)),
                                 "order": int(item.get("order") or dept)}
    sim.changed()
    return {"departments": list(sim.departments.values())}


def _member(sim: Simulator, userid: str) -> dict:
    member = sim.members.get(userid)
    if member is None:
        raise ControlError(f"no member {userid}", "not_found", 404)
    return member


@route("GET", "/sim/members/(?P<userid>[^/]+)")
def member_get(sim: Simulator, query, body, userid):
    member = _member(sim, userid)
    follows = [sim.follow_info_json(f) | {"external_userid": f["external_userid"], "status": f["status"]}
               for f in sim.by_user.get(userid, ())]
    return {"member": _member_out(sim, member), "customers": follows}


@route("POST", "/sim/members/(?P<userid>[^/]+)/resign")
def member_resign(sim: Simulator, query, body, userid):
    member = sim.resign_member(userid, silent=bool(body.get("silent", False)))
    return {"member": _member_out(sim, member)}


@route("POST", "/sim/members/(?P<userid>[^/]+)/moments")
def member_moment(sim: Simulator, query, body, userid):
    return {"moment": _copy(sim.post_moment(userid, body))}


@route("POST", "/sim/members/(?P<userid>[^/]+)/delete_customer")
def member_delete_customer(sim: Simulator, query, body, userid):
    _require(body, "external_userid")
    return sim.member_deletes_customer(userid, body["external_userid"], source=body.get("source"))


@route("POST", "/sim/members/(?P<userid>[^/]+)/add_customer")
def member_add_customer(sim: Simulator, query, body, userid):
    """The member adds the customer (e.g. by phone number: add_way 2); oper_userid is the member."""
    _require(body, "external_userid")
    return sim.customer_adds(body["external_userid"], userid=userid, state=body.get("state"),
                             add_way=int(body.get("add_way", 2)), welcome_code=body.get("welcome_code"),
                             oper="member")


@route("POST", "/sim/members/(?P<userid>[^/]+)/confirm_customer")
def member_confirm_customer(sim: Simulator, query, body, userid):
    _require(body, "external_userid")
    return sim.confirm_half(userid, body["external_userid"])


@route("POST", "/sim/members/(?P<userid>[^/]+)/edit_customer")
def member_edit_customer(sim: Simulator, query, body, userid):
    _require(body, "external_userid")
    return sim.member_edits_customer(userid, body["external_userid"], {k: v for k, v in body.items()
                                                                       if k != "external_userid"})


# ====================================================================================== customers
@route("GET", "/sim/customers")
def customers_list(sim: Simulator, query, body):
    items = sorted(sim.customers.values(), key=lambda c: c["seq"])
    limit = int(query.get("limit") or 0)
    if limit:
        items = items[-limit:]
    return {"customers": _copy(items), "total": len(sim.customers)}


@route("POST", "/sim/customers")
def customers_create(sim: Simulator, query, body):
    """One customer ({name, ...}), many ({"customers": [...]}) or {"count": N, "name_prefix": "..."}."""
    if "count" in body:
        count = int(body["count"])
        if not 0 < count <= 100000:
            raise ControlError("count must be 1-100000", "invalid_count")
        prefix = body.get("name_prefix") or "客户"
        items = [{"name": f"{prefix}{i + 1}"} for i in range(count)]
        return {"customers": [_copy(sim.create_customer(i)) for i in items]}
    if "customers" in body:
        return {"customers": [_copy(sim.create_customer(i)) for i in body["customers"]]}
    return {"customer": _copy(sim.create_customer(body))}


def _customer(sim: Simulator, euid: str) -> dict:
    customer = sim.customers.get(euid)
    if customer is None:
        raise ControlError(f"no customer {euid}", "not_found", 404)
    return customer


@route("GET", "/sim/customers/(?P<euid>[^/]+)")
def customer_get(sim: Simulator, query, body, euid):
    customer = _customer(sim, euid)
    follows = [sim.follow_info_json(f) | {"status": f["status"]} for f in sim.by_customer.get(euid, ())]
    messages = [m for m in sim.welcome_messages if m["external_userid"] == euid]
    chats = [c["chat_id"] for c in sim.groupchats.values()
             if not c.get("dismissed") and any(m["userid"] == euid for m in c["member_list"])]
    return {"customer": _copy(customer), "follows": follows, "welcome_messages": _copy(messages), "groupchats": chats}


@route("POST", "/sim/customers/(?P<euid>[^/]+)/scan")
def customer_scan(sim: Simulator, query, body, euid):
    """Scan a contact way {config_id} or add a member {userid, state}. Options: state (override, e.g.
    "wb:1:..."), half (add_half_external_contact), add_way, welcome_code (false = omit)."""
    if not body.get("config_id") and not body.get("userid"):
        raise ControlError("config_id or userid is required", "missing_field")
    return sim.customer_adds(euid, config_id=body.get("config_id"), userid=body.get("userid"),
                             state=body.get("state"), add_way=body.get("add_way"), half=bool(body.get("half")),
                             welcome_code=body.get("welcome_code"))


@route("POST", "/sim/customers/(?P<euid>[^/]+)/delete_member")
def customer_delete_member(sim: Simulator, query, body, euid):
    _require(body, "userid")
    return sim.customer_deletes_member(euid, body["userid"])


@route("POST", "/sim/customers/(?P<euid>[^/]+)/chat")
def customer_chat(sim: Simulator, query, body, euid):
    _require(body, "userid")
    return sim.mark_chatted(euid, body["userid"])


@route("POST", "/sim/customers/(?P<euid>[^/]+)/join_group")
def customer_join_group(sim: Simulator, query, body, euid):
    if body.get("config_id"):
        return sim.join_via_way(euid, body["config_id"])
    _require(body, "chat_id")
    scene = int(body.get("join_scene", 1))
    return sim.chat_members_change(body["chat_id"], add=[euid], join_scene=scene, invitor=body.get("invitor"),
                                   state=str(body.get("state") or ""))


@route("POST", "/sim/customers/(?P<euid>[^/]+)/leave_group")
def customer_leave_group(sim: Simulator, query, body, euid):
    _require(body, "chat_id")
    return sim.chat_members_change(body["chat_id"], remove=[euid], quit_scene=int(body.get("quit_scene", 0)))


@route("POST", "/sim/follows")
def follows_seed(sim: Simulator, query, body):
    """Seed existing relationships [{userid, external_userid, state?, createtime?, remark?, add_way?}].
    silent (default true): no callbacks, like data that existed before the platform was connected."""
    items = body.get("follows")
    if not isinstance(items, list):
        raise ControlError("follows must be a list", "invalid_follows")
    silent = body.get("silent", True)
    created = 0
    for item in items:
        _require(item, "userid", "external_userid")
        userid, euid = item["userid"], item["external_userid"]
        _member(sim, userid)
        _customer(sim, euid)
        if (userid, euid) in sim.follows:
            continue
        if silent:
            sim.new_follow(userid, euid, state=str(item.get("state") or ""), add_way=int(item.get("add_way", 1)),
                           oper_userid=euid, createtime=item.get("createtime"), remark=item.get("remark"),
                           description=item.get("description"))
        else:
            sim.customer_adds(euid, userid=userid, state=item.get("state"), add_way=item.get("add_way"))
        if item.get("chatted"):
            sim.chatted.add((userid, euid))
        created += 1
    return {"created": created}


# ====================================================================================== group chats
@route("GET", "/sim/groupchats")
def groupchats_list(sim: Simulator, query, body):
    return {"groupchats": _copy(sorted(sim.groupchats.values(), key=lambda c: c["seq"]))}


@route("POST", "/sim/groupchats")
def groupchats_create(sim: Simulator, query, body):
    _require(body, "owner")
    chat = sim.create_chat(body["owner"], str(body.get("name") or ""), body.get("members") or [],
                           str(body.get("notice") or ""), body.get("admin_list") or [], silent=bool(body.get("silent")))
    return {"groupchat": _copy(chat)}


def _chat(sim: Simulator, chat_id: str) -> dict:
    chat = sim.groupchats.get(chat_id)
    if chat is None:
        raise ControlError(f"no group chat {chat_id}", "not_found", 404)
    return chat


@route("GET", "/sim/groupchats/(?P<chat_id>[^/]+)")
def groupchat_get(sim: Simulator, query, body, chat_id):
    return {"groupchat": _copy(_chat(sim, chat_id))}


@route("POST", "/sim/groupchats/(?P<chat_id>[^/]+)/members")
def groupchat_members(sim: Simulator, query, body, chat_id):
    """{add: [ids], remove: [ids], join_scene (1 invite, 3 QR), quit_scene (0 self, 1 kicked), invitor}."""
    return sim.chat_members_change(chat_id, add=body.get("add"), remove=body.get("remove"),
                                   join_scene=int(body.get("join_scene", 1)),
                                   quit_scene=int(body.get("quit_scene", 0)), invitor=body.get("invitor"),
                                   state=str(body.get("state") or ""))


@route("POST", "/sim/groupchats/(?P<chat_id>[^/]+)/update")
def groupchat_update(sim: Simulator, query, body, chat_id):
    return sim.chat_update(chat_id, name=body.get("name"), owner=body.get("owner"), notice=body.get("notice"))


@route("POST", "/sim/groupchats/(?P<chat_id>[^/]+)/dismiss")
def groupchat_dismiss(sim: Simulator, query, body, chat_id):
    return sim.chat_dismiss(chat_id)


# ====================================================================================== tags (admin console)
@route("POST", "/sim/tags")
def tags_create(sim: Simulator, query, body):
    """The admin creates tags in the console -> change_external_tag create (group and each tag)."""
    names = body.get("tags") or []
    if not names:
        raise ControlError("tags (names) are required", "missing_field")
    events = []
    if body.get("group_id"):
        group = sim.tag_groups.get(body["group_id"])
        if group is None or group.get("deleted"):
            raise ControlError(f"no tag group {body['group_id']}", "not_found", 404)
    else:
        _require(body, "group_name")
        group = next((g for g in sim.tag_groups.values()
                      if g["group_name"] == body["group_name"] and not g.get("deleted")), None)
        if group is None:
            group = sim.new_tag_group(str(body["group_name"]), int(body.get("order") or 0))
            events.append(sim.emit_tag_event("create", "tag_group", group["group_id"])["id"])
    created = []
    for item in names:
        name = item if isinstance(item, str) else item.get("name")
        order = 0 if isinstance(item, str) else int(item.get("order") or 0)
        if any(sim.tags[t]["name"] == name and not sim.tags[t].get("deleted") for t in group["tags"]):
            continue
        tag = sim.new_tag(group, str(name), order)
        created.append(tag["id"])
        events.append(sim.emit_tag_event("create", "tag", tag["id"])["id"])
    sim.changed()
    return {"tag_group": sim.group_json(group), "created": created, "event_ids": events}


@route("POST", "/sim/tags/shuffle")
def tags_shuffle(sim: Simulator, query, body):
    group_id = body.get("group_id") or ""
    if group_id:
        group = sim.tag_groups.get(group_id)
        if group is None:
            raise ControlError(f"no tag group {group_id}", "not_found", 404)
        tags = [sim.tags[t] for t in group["tags"]]
        for n, tag in enumerate(reversed(tags)):
            tag["order"] = n
    sim.changed()
    return {"event_id": sim.emit_tag_event("shuffle", "tag_group" if group_id else "tag", group_id)["id"]}


@route("POST", "/sim/tags/(?P<tag_id>[^/]+)/update")
def tags_update(sim: Simulator, query, body, tag_id):
    if tag_id in sim.tags:
        obj, kind = sim.tags[tag_id], "tag"
        if "name" in body:
            obj["name"] = str(body["name"])
    elif tag_id in sim.tag_groups:
        obj, kind = sim.tag_groups[tag_id], "tag_group"
        if "name" in body:
            obj["group_name"] = str(body["name"])
    else:
        raise ControlError(f"no tag or group {tag_id}", "not_found", 404)
    if "order" in body:
        obj["order"] = int(body["order"])
    sim.changed()
    return {"event_id": sim.emit_tag_event("update", kind, tag_id)["id"]}


@route("POST", "/sim/tags/(?P<tag_id>[^/]+)/delete")
def tags_delete(sim: Simulator, query, body, tag_id):
    if tag_id in sim.tags and not sim.tags[tag_id].get("deleted"):
        sim.delete_tag(tag_id)
        kind = "tag"
    elif tag_id in sim.tag_groups and not sim.tag_groups[tag_id].get("deleted"):
        sim.delete_tag_group(tag_id)
        kind = "tag_group"
    else:
        raise ControlError(f"no tag or group {tag_id}", "not_found", 404)
    return {"event_id": sim.emit_tag_event("delete", kind, tag_id)["id"]}


# ====================================================================================== ways, transfers
@route("GET", "/sim/contact_ways")
def contact_ways(sim: Simulator, query, body):
    return {"contact_ways": _copy(sorted(sim.contact_ways.values(), key=lambda w: w["seq"]))}


@route("GET", "/sim/join_ways")
def join_ways(sim: Simulator, query, body):
    return {"join_ways": _copy(sorted(sim.join_ways.values(), key=lambda w: w["seq"]))}


@route("GET", "/sim/transfers")
def transfers(sim: Simulator, query, body):
    return {"transfers": _copy(sim.transfers)}


@route("POST", "/sim/transfers/outcome")
def transfers_outcome(sim: Simulator, query, body):
    """Preset what a customer does with a transfer: accept | refuse | limit. {external_userid(s), outcome}."""
    _require(body, "outcome")
    if body["outcome"] not in OUTCOMES:
        raise ControlError(f"outcome must be one of {OUTCOMES}", "invalid_outcome")
    ids = body.get("external_userids") or ([body["external_userid"]] if body.get("external_userid") else [])
    if not ids:
        raise ControlError("external_userid or external_userids is required", "missing_field")
    for euid in ids:
        sim.config.transfer_outcomes[euid] = body["outcome"]
    return {"transfer_outcomes": dict(sim.config.transfer_outcomes)}


# ====================================================================================== callbacks
def _wait(sim: Simulator, timeout: float) -> bool:
    return sim.dispatcher.wait_idle(timeout) if sim.dispatcher else True


@route("GET", "/sim/deliveries")
def deliveries(sim: Simulator, query, body):
    if not sim.dispatcher:
        return {"deliveries": [], "pending": 0}
    return {"deliveries": sim.dispatcher.list(limit=int(query.get("limit") or 0) or None,
                                              status=query.get("status") or None,
                                              since_id=int(query.get("since_id") or 0)),
            "pending": sim.dispatcher.pending}


@route("GET", "/sim/deliveries/(?P<record_id>[0-9]+)")
def delivery(sim: Simulator, query, body, record_id):
    record = sim.dispatcher.get(int(record_id)) if sim.dispatcher else None
    if record is None:
        raise ControlError(f"no delivery {record_id}", "not_found", 404)
    return {"delivery": record}


@route("POST", "/sim/deliveries/clear")
def deliveries_clear(sim: Simulator, query, body):
    if sim.dispatcher:
        sim.dispatcher.clear()
    return {}


@route("POST", "/sim/callbacks/send")
def callbacks_send(sim: Simulator, query, body):
    """Push an arbitrary event: {"event": {"Event": ..., "ChangeType": ..., ...}} (fields after MsgType, in
    order) or {"xml": "<xml>...</xml>"} (sent as is)."""
    if body.get("xml"):
        record = sim.dispatcher.enqueue(str(body["xml"]), {"raw": True, "CreateTime": sim.inow()},
                                        key=str(body.get("key") or ""))
        return {"event_id": record["id"]}
    event = body.get("event")
    if not isinstance(event, dict) or not event.get("Event"):
        raise ControlError("event (an object with Event, ChangeType, ...) or xml is required", "missing_field")
    record = sim.emit(list(event.items()), key=str(event.get("ExternalUserID") or event.get("ChatId") or ""))
    return {"event_id": record["id"], "xml": record["xml"]}


@route("POST", "/sim/callbacks/verify_url")
def callbacks_verify_url(sim: Simulator, query, body):
    """Do WeCom's GET URL verification against the platform (default: the configured callback_url)."""
    url = body.get("url") or sim.config.callback_url
    if not url:
        raise ControlError("no url given and no callback_url configured", "missing_field")
    return verify_url(sim, url, timeout=float(body.get("timeout") or 1.0))


def verify_url(sim: Simulator, url: str, timeout: float = 1.0) -> dict:
    crypto = WeComCrypto(sim.config.token, sim.config.aes_key, sim.config.corp_id)
    expected = str(int(time.time() * 1000)) + str(random_nonce())
    timestamp, nonce = str(sim.inow()), random_nonce()
    echostr, signature = crypto.make_echostr(expected, timestamp, nonce)
    params = urllib.parse.urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce,
                                     "echostr": echostr})
    full = url + ("&" if "?" in url else "?") + params
    started = time.monotonic()
    status, text, error = None, "", None
    try:
        with urllib.request.urlopen(full, timeout=timeout) as response:
            status, text = response.status, response.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except OSError as exc:
        error = f"connection error: {exc}"
    duration = int((time.monotonic() - started) * 1000)
    return {"ok": status == 200 and text == expected, "status": status, "body": text, "expected": expected,
            "duration_ms": duration, "error": error, "url": full}


# ====================================================================================== inspection
@route("GET", "/sim/welcome_messages")
def welcome_messages(sim: Simulator, query, body):
    items = sim.welcome_messages
    if query.get("external_userid"):
        items = [m for m in items if m["external_userid"] == query["external_userid"]]
    if query.get("userid"):
        items = [m for m in items if m["userid"] == query["userid"]]
    return {"welcome_messages": _copy(items)}


@route("GET", "/sim/calls")
def calls(sim: Simulator, query, body):
    items = list(sim.calls)
    if query.get("endpoint"):
        items = [c for c in items if c["endpoint"] == query["endpoint"].strip("/")]
    if query.get("errcode") not in (None, ""):
        items = [c for c in items if c["errcode"] == int(query["errcode"])]
    if query.get("since_seq"):
        items = [c for c in items if c["seq"] > int(query["since_seq"])]
    limit = int(query.get("limit") or 0)
    if limit:
        items = items[-limit:]
    return {"calls": _copy(items), "counts": _copy(sim.call_counts)}


@route("POST", "/sim/calls/clear")
def calls_clear(sim: Simulator, query, body):
    sim.calls.clear()
    sim.call_counts.clear()
    return {}


# ====================================================================================== QR codes & pages
def qr_image(data: str, kind: str) -> Response:
    try:
        import io

        import segno

        qr = segno.make(data, error="m")
        buf = io.BytesIO()
        if kind == "svg":
            qr.save(buf, kind="svg", scale=6, border=2)
            return Response(buf.getvalue(), "image/svg+xml")
        qr.save(buf, kind="png", scale=6, border=2)
        return Response(buf.getvalue(), "image/png")
    except ImportError:
        text = html.escape(data)
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="320" height="60"><rect width="320" height="60" '
               f'fill="#fff" stroke="#000"/><text x="8" y="34" font-size="10">{text}</text></svg>')
        return Response(svg, "image/svg+xml")


@route("GET", r"/sim/qr/(?P<kind>contact|join|member)/(?P<ident>[^/]+)\.(?P<ext>png|svg)")
def qr(sim: Simulator, query, body, kind, ident, ext):
    base = sim.config.base_url
    if kind == "contact":
        if ident not in sim.contact_ways:
            raise ControlError(f"no contact way {ident}", "not_found", 404)
        data = f"{base}/sim/scan/{ident}"
    elif kind == "join":
        if ident not in sim.join_ways:
            raise ControlError(f"no join way {ident}", "not_found", 404)
        data = f"{base}/sim/join/{ident}"
    else:
        _member(sim, ident)
        data = f"{base}/sim/members/{ident}"
    return qr_image(data, ext)


PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width,initial-scale=1"><title>{title}</title><style>body{{font-family:sans-serif;max-width:36em;
margin:2em auto;padding:0 1em}}input,button{{font-size:1em;padding:.3em}}.ok{{color:#080}}.err{{color:#a00}}
li{{margin:.3em 0}}</style></head><body><h1>{title}</h1>{content}<p><small>WeCom simulator (not WeCom)</small></p>
</body></html>"""


def page(title: str, content: str, status: int = 200) -> Response:
    return Response(PAGE.format(title=html.escape(title), content=content), status=status)


@route("GET", "/sim/scan/(?P<config_id>[^/]+)")
def scan_page(sim: Simulator, query, body, config_id):
    way = sim.contact_ways.get(config_id)
    if way is None:
        return page("联系我 — not found", f"<p class=err>No contact way {html.escape(config_id)}.</p>", 404)
    users = ", ".join(html.escape(u) for u in sim._way_members(way))
    content = (f"<p>Contact way <code>{html.escape(config_id)}</code>, state <code>{html.escape(way['state'])}</code>,"
               f" members: {users}</p><form method=post><p><label>Your WeChat name "
               f"<input name=name value='微信客户' required></label></p><p><label>or existing external_userid "
               f"<input name=external_userid></label></p><p><button>添加 (add as contact)</button></p></form>")
    return page("扫码添加 Scan to add", content)


@route("POST", "/sim/scan/(?P<config_id>[^/]+)")
def scan_submit(sim: Simulator, query, body, config_id):
    try:
        euid = body.get("external_userid") or sim.create_customer({"name": body.get("name") or "微信客户"})[
            "external_userid"]
        result = sim.customer_adds(euid, config_id=config_id, state=body.get("state") or None)
    except ControlError as exc:
        return page("扫码添加 — failed", f"<p class=err>{html.escape(exc.message)}</p>", exc.status)
    content = (f"<p class=ok>{html.escape(euid)} added {html.escape(result['userid'])} "
               f"(state <code>{html.escape(result['state'] or '')}</code>).</p>"
               f"<p>Welcome messages: <a href='/sim/customers/{html.escape(euid)}'>/sim/customers/{html.escape(euid)}"
               f"</a></p>")
    return page("已添加 Added", content)


@route("GET", "/sim/join/(?P<config_id>[^/]+)")
def join_page(sim: Simulator, query, body, config_id):
    way = sim.join_ways.get(config_id)
    if way is None:
        return page("加入群聊 — not found", f"<p class=err>No join way {html.escape(config_id)}.</p>", 404)
    content = ("<form method=post><p><label>external_userid <input name=external_userid required></label></p>"
               "<p><button>加入群聊 (join)</button></p></form>")
    return page("加入群聊 Join group", content)


@route("POST", "/sim/join/(?P<config_id>[^/]+)")
def join_submit(sim: Simulator, query, body, config_id):
    try:
        result = sim.join_via_way(str(body.get("external_userid") or ""), config_id)
    except ControlError as exc:
        return page("加入群聊 — failed", f"<p class=err>{html.escape(exc.message)}</p>", exc.status)
    return page("已加入 Joined", f"<p class=ok>Joined {html.escape(result['chat_id'])}.</p>")


# ====================================================================================== OAuth page
def oauth_authorize(sim: Simulator, query: dict[str, str]) -> Response:
    """GET /connect/oauth2/authorize (the real one is on open.weixin.qq.com)."""
    appid, redirect_uri = query.get("appid"), query.get("redirect_uri")
    if appid != sim.config.corp_id:
        return page("OAuth error", "<p class=err>errcode 40013: 不合法的CorpID (appid)</p>", 400)
    if not redirect_uri:
        return page("OAuth error", "<p class=err>redirect_uri is required</p>", 400)
    if query.get("response_type", "code") != "code":
        return page("OAuth error", "<p class=err>response_type must be code</p>", 400)
    scope = query.get("scope") or "snsapi_base"
    state = query.get("state", "")
    agentid = query.get("agentid") or None
    userid, euid, openid = query.get("userid"), query.get("external_userid"), query.get("openid")
    if userid or euid or openid:
        if userid:
            member = sim.members.get(userid)
            if member is None or member["status"] == "resigned":
                return page("OAuth error", f"<p class=err>no active member {html.escape(userid)}</p>", 400)
        if euid and euid not in sim.customers:
            return page("OAuth error", f"<p class=err>no customer {html.escape(euid)}</p>", 400)
        if euid and not openid:
            openid = sim.customers[euid].get("openid")
        code = sim.issue_oauth_code(userid=userid or None, external_userid=euid or None, openid=openid or None,
                                    scope=scope, agentid=agentid)
        split = urllib.parse.urlsplit(redirect_uri)
        extra = urllib.parse.urlencode({"code": code, "state": state})
        new_query = f"{split.query}&{extra}" if split.query else extra
        location = urllib.parse.urlunsplit((split.scheme, split.netloc, split.path, new_query, split.fragment))
        return Response(b"", "text/plain", 302, {"Location": location})
    base = {k: v for k, v in query.items() if k not in ("userid", "external_userid", "openid")}
    links = []
    for member in sorted(sim.members.values(), key=lambda m: m["seq"]):
        if member["status"] == "resigned":
            continue
        href = "/connect/oauth2/authorize?" + urllib.parse.urlencode({**base, "userid": member["userid"]})
        links.append(f"<li><a href='{html.escape(href)}'>{html.escape(member['name'])} "
                     f"<code>{html.escape(member['userid'])}</code></a></li>")
    other = "/connect/oauth2/authorize?" + urllib.parse.urlencode({**base, "openid": "o" + "sim" + str(int(time.time()))})
    content = (f"<p>Who are you? (redirects to <code>{html.escape(redirect_uri)}</code>)</p><ul>{''.join(links)}</ul>"
               f"<p><a href='{html.escape(other)}'>I am not a member (WeChat user)</a></p>")
    return page("企业微信授权 Sign in", content)


def index_page(sim: Simulator) -> Response:
    content = (f"<p>Corp <code>{html.escape(sim.config.corp_id)}</code>. API base "
               f"<code>{html.escape(sim.config.base_url)}/cgi-bin/</code>.</p><ul>"
               "<li><a href='/sim'>/sim</a> control API routes</li><li><a href='/sim/stats'>/sim/stats</a></li>"
               "<li><a href='/sim/members'>/sim/members</a></li><li><a href='/sim/deliveries?limit=50'>"
               "/sim/deliveries</a></li><li><a href='/sim/welcome_messages'>/sim/welcome_messages</a></li>"
               "<li><a href='/sim/calls?limit=100'>/sim/calls</a></li></ul>")
    return page("WeCom simulator", content)

