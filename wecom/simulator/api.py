"""WeCom server API handlers, served under /cgi-bin/ (reference/wecom-api.md §1-§10).

Every handler runs under the simulator lock and returns the JSON body without errcode/errmsg (added
by the server) or raises ApiError. None of these emits callbacks: "通过API进行的操作不会产生回调".
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Callable
from typing import Any

from .core import ApiError, Simulator, decode_cursor, encode_cursor, rand, text_len
from .errcodes import ERRMSG

HANDLERS: dict[str, tuple[str, Callable]] = {}
NO_TOKEN = {"gettoken"}


def endpoint(name: str, method: str = "POST"):
    def register(func):
        HANDLERS[name] = (method, func)
        return func
    return register


class Request:
    def __init__(self, method: str, endpoint: str, query: dict[str, str], body: dict[str, Any],
                 token_kind: str | None = None, client_ip: str = "127.0.0.1"):
        self.method = method
        self.endpoint = endpoint
        self.query = query
        self.body = body
        self.token_kind = token_kind
        self.client_ip = client_ip

    def get(self, name: str, default: Any = None) -> Any:
        """GET parameters come from the query string, POST parameters from the JSON body."""
        if self.method == "GET":
            return self.query.get(name, default)
        return self.body.get(name, default)


def parse_body(raw: bytes) -> dict:
    if not raw or not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(47001, "body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ApiError(47001, "body must be a JSON object")
    return data


def as_int(value: Any, name: str, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(40058, f"{name} must be an integer") from exc


def as_list(value: Any, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(40058, f"{name} must be an array")
    return value


# ====================================================================================== tokens
@endpoint("gettoken", "GET")
def gettoken(sim: Simulator, req: Request) -> dict:
    corpid, secret = req.query.get("corpid"), req.query.get("corpsecret")
    if not corpid:
        raise ApiError(41002)
    if not secret:
        raise ApiError(41004)
    if corpid != sim.config.corp_id:
        raise ApiError(40013)
    if secret == sim.config.corp_secret:
        kind = "contact"
    elif secret == sim.config.agent_secret:
        kind = "agent"
    else:
        raise ApiError(40001)
    token, ttl = sim.issue_token(kind)
    return {"access_token": token, "expires_in": ttl}


@endpoint("get_jsapi_ticket", "GET")
def get_jsapi_ticket(sim: Simulator, req: Request) -> dict:
    ticket, ttl = sim.issue_ticket("jsapi")
    return {"ticket": ticket, "expires_in": ttl}


@endpoint("ticket/get", "GET")
def ticket_get(sim: Simulator, req: Request) -> dict:
    if req.query.get("type") != "agent_config":
        raise ApiError(40058, "type must be agent_config")
    ticket, ttl = sim.issue_ticket("agent_config")
    return {"ticket": ticket, "expires_in": ttl}


# ====================================================================================== members
def member_json(sim: Simulator, member: dict, simple: bool = False) -> dict:
    if simple:
        return {"userid": member["userid"], "name": member["name"], "department": list(member["department"]),
                "open_userid": member["open_userid"]}
    status = {"active": 1, "unverified": 1, "inactive": 4}.get(member["status"], 1)
    return {
        "userid": member["userid"], "name": member["name"], "department": list(member["department"]),
        "order": [0 for _ in member["department"]], "position": member["position"], "mobile": member["mobile"],
        "gender": member["gender"], "email": member["email"],
        "is_leader_in_dept": [0 for _ in member["department"]], "direct_leader": [], "avatar": member["avatar"],
        "thumb_avatar": member["avatar"], "telephone": "", "alias": member["alias"], "status": status,
        "main_department": member["main_department"], "open_userid": member["open_userid"],
        "qr_code": f"{sim.config.base_url}/sim/qr/member/{member['userid']}.png",
    }


@endpoint("user/get", "GET")
def user_get(sim: Simulator, req: Request) -> dict:
    member = sim.member(req.query.get("userid"), errcode=60111)
    return member_json(sim, member)


def _department_members(sim: Simulator, req: Request) -> list[dict]:
    dept = as_int(req.query.get("department_id"), "department_id", 1)
    if dept not in sim.departments:
        raise ApiError(60003, f"department {dept}")
    fetch_child = req.query.get("fetch_child") in ("1", "true")
    wanted = set(sim._expand_departments([dept])) if fetch_child else {dept}
    return [m for m in sorted(sim.members.values(), key=lambda m: m["seq"])
            if m["status"] != "resigned" and wanted.intersection(m["department"])]


@endpoint("user/list", "GET")
def user_list(sim: Simulator, req: Request) -> dict:
    return {"userlist": [member_json(sim, m) for m in _department_members(sim, req)]}


@endpoint("user/simplelist", "GET")
def user_simplelist(sim: Simulator, req: Request) -> dict:
    return {"userlist": [member_json(sim, m, simple=True) for m in _department_members(sim, req)]}


@endpoint("user/list_id")
def user_list_id(sim: Simulator, req: Request) -> dict:
    limit = max(1, min(10000, as_int(req.body.get("limit"), "limit", 10000)))
    after = decode_cursor(req.body.get("cursor"), 1)
    members = [m for m in sorted(sim.members.values(), key=lambda m: m["seq"]) if m["status"] != "resigned"]
    if after:
        members = [m for m in members if m["seq"] > after[0]]
    page = members[:limit]
    out = {"dept_user": [{"userid": m["userid"], "department": d} for m in page for d in m["department"]]}
    out["next_cursor"] = encode_cursor(page[-1]["seq"]) if len(members) > limit else ""
    return out


@endpoint("department/list", "GET")
def department_list(sim: Simulator, req: Request) -> dict:
    root = as_int(req.query.get("id"), "id", None)
    ids = sim._expand_departments([root]) if root else sorted(sim.departments)
    return {"department": [dict(sim.departments[d], department_leader=[]) for d in ids if d in sim.departments]}


# ====================================================================================== OAuth
def _user_ticket(sim: Simulator, info: dict) -> dict:
    if info.get("userid") and info.get("scope") == "snsapi_privateinfo" and info.get("agentid"):
        ticket = rand(64)
        sim.user_tickets[ticket] = {"userid": info["userid"], "expires_at": sim.now() + sim.config.user_ticket_ttl}
        return {"user_ticket": ticket, "expires_in": int(sim.config.user_ticket_ttl)}
    return {}


@endpoint("auth/getuserinfo", "GET")
def auth_getuserinfo(sim: Simulator, req: Request) -> dict:
    info = sim.consume_oauth_code(req.query.get("code"))
    if info.get("userid"):
        return {"userid": info["userid"], **_user_ticket(sim, info)}
    out = {"openid": info.get("openid") or ("o" + rand(27))}
    if info.get("external_userid"):
        out["external_userid"] = info["external_userid"]
    return out


@endpoint("user/getuserinfo", "GET")
def user_getuserinfo(sim: Simulator, req: Request) -> dict:
    info = sim.consume_oauth_code(req.query.get("code"))
    if info.get("userid"):
        return {"UserId": info["userid"], "DeviceId": "", **_user_ticket(sim, info)}
    out = {"OpenId": info.get("openid") or ("o" + rand(27)), "DeviceId": ""}
    if info.get("external_userid"):
        out["external_userid"] = info["external_userid"]
    return out


@endpoint("auth/getuserdetail")
def auth_getuserdetail(sim: Simulator, req: Request) -> dict:
    ticket = req.body.get("user_ticket")
    info = sim.user_tickets.get(ticket or "")
    if not info or info["expires_at"] <= sim.now():
        raise ApiError(40058, "invalid user_ticket")
    member = sim.member(info["userid"], errcode=60111)
    return {"userid": member["userid"], "gender": member["gender"], "avatar": member["avatar"],
            "qr_code": f"{sim.config.base_url}/sim/qr/member/{member['userid']}.png", "mobile": member["mobile"],
            "email": member["email"], "biz_mail": "", "address": ""}


# ====================================================================================== customers
@endpoint("externalcontact/get_follow_user_list", "GET")
def get_follow_user_list(sim: Simulator, req: Request) -> dict:
    return {"follow_user": [m["userid"] for m in sorted(sim.members.values(), key=lambda m: m["seq"])
                            if m["status"] != "resigned" and m.get("customer_contact", True)]}


@endpoint("externalcontact/list", "GET")
def externalcontact_list(sim: Simulator, req: Request) -> dict:
    member = sim.member(req.query.get("userid"))
    ids = [f["external_userid"] for f in sim.by_user.get(member["userid"], ()) if sim.follow_visible(f)]
    if not ids:
        raise ApiError(84061, "not external contact", extra={"external_userid": []})
    return {"external_userid": ids}


@endpoint("externalcontact/get", "GET")
def externalcontact_get(sim: Simulator, req: Request) -> dict:
    euid = req.query.get("external_userid")
    if not euid:
        raise ApiError(41035)
    customer = sim.customers.get(euid)
    if customer is None:
        raise ApiError(40096, f"external_userid {euid}", extra={"follow_user": []})
    follows = [f for f in sim.by_customer.get(euid, ()) if sim.follow_visible(f)]
    if not follows:
        raise ApiError(84061, "not external contact", extra={"follow_user": []})
    cursor = decode_cursor(req.query.get("cursor"), 1)
    start = cursor[0] if cursor else 0
    page = follows[start:start + 500]
    out = {"external_contact": sim.contact_json(customer), "follow_user": [sim.follow_user_json(f) for f in page]}
    if start + 500 < len(follows):
        out["next_cursor"] = encode_cursor(start + 500)
    return out


@endpoint("externalcontact/batch/get_by_user")
def batch_get_by_user(sim: Simulator, req: Request) -> dict:
    userids = as_list(req.body.get("userid_list"), "userid_list")
    if not userids:
        raise ApiError(40058, "userid_list is required")
    if len(userids) > 100:
        raise ApiError(40058, "userid_list exceeds 100")
    seen: list[str] = []
    for userid in userids:
        if userid not in seen:
            seen.append(str(userid))
    limit = as_int(req.body.get("limit"), "limit", 50)
    limit = max(1, min(100, limit))
    cursor = decode_cursor(req.body.get("cursor"), 2)
    ui, after = (int(cursor[0]), int(cursor[1])) if cursor else (0, 0)
    out: list[dict] = []
    next_cursor = ""
    last: tuple[int, int] = (ui, after)
    while ui < len(seen) and not next_cursor:
        items = sim.by_user.get(seen[ui], [])
        start = bisect.bisect_right(items, after, key=lambda f: f["seq"]) if after else 0
        for follow in itertools.islice(items, start, None):
            if not sim.follow_visible(follow):
                continue
            customer = sim.customers.get(follow["external_userid"])
            if customer is None:
                continue
            if len(out) == limit:
                next_cursor = encode_cursor(*last)
                break
            out.append({"external_contact": sim.contact_json(customer), "follow_info": sim.follow_info_json(follow)})
            last = (ui, follow["seq"])
        ui += 1
        after = 0
    return {"external_contact_list": out, "next_cursor": next_cursor}


@endpoint("externalcontact/remark")
def remark(sim: Simulator, req: Request) -> dict:
    b = req.body
    member = sim.member(b.get("userid"))
    if not b.get("external_userid"):
        raise ApiError(41035)
    sim.customer(b.get("external_userid"))
    follow = sim.require_follow(member["userid"], b["external_userid"])
    fields = ("remark", "description", "remark_company", "remark_mobiles", "remark_pic_mediaid")
    if not any(k in b for k in fields):
        raise ApiError(40058, "remark, description, remark_company, remark_mobiles, remark_pic_mediaid all empty")
    if text_len(b.get("remark")) > 20:
        raise ApiError(40058, "remark exceeds 20 characters")
    if text_len(b.get("description")) > 150:
        raise ApiError(40058, "description exceeds 150 characters")
    if text_len(b.get("remark_company")) > 20:
        raise ApiError(40058, "remark_company exceeds 20 characters")
    if "remark" in b:
        follow["remark"] = str(b["remark"] or "")
    if "description" in b:
        follow["description"] = str(b["description"] or "")
    if "remark_company" in b:
        follow["remark_corp_name"] = str(b["remark_company"] or "")
    if "remark_mobiles" in b:
        mobiles = b["remark_mobiles"]
        if isinstance(mobiles, str):
            mobiles = [mobiles]
        follow["remark_mobiles"] = [str(m) for m in mobiles or [] if m]
    sim.changed()
    return {}


# ====================================================================================== corp tags
@endpoint("externalcontact/get_corp_tag_list")
def get_corp_tag_list(sim: Simulator, req: Request) -> dict:
    tag_ids = as_list(req.body.get("tag_id"), "tag_id")
    group_ids = as_list(req.body.get("group_id"), "group_id")
    groups = sorted(sim.tag_groups.values(), key=lambda g: (-g["order"], g["seq"]))
    if group_ids:
        return {"tag_group": [sim.group_json(g, with_deleted=True) for g in groups if g["group_id"] in group_ids]}
    if tag_ids:
        out = []
        for group in groups:
            chosen = [t for t in group["tags"] if t in tag_ids]
            if chosen:
                out.append(sim.group_json(group, tag_ids=chosen, with_deleted=True))
        return {"tag_group": out}
    return {"tag_group": [sim.group_json(g) for g in groups if not g.get("deleted")]}


@endpoint("externalcontact/add_corp_tag")
def add_corp_tag(sim: Simulator, req: Request) -> dict:
    b = req.body
    tags = as_list(b.get("tag"), "tag")
    if not tags:
        raise ApiError(40058, "tag is required (empty groups are not allowed)")
    names: list[tuple[str, int]] = []
    for tag in tags:
        name = str((tag or {}).get("name") or "").strip()
        if not name or len(name) > 30:
            raise ApiError(40071, "tag name is empty or longer than 30 characters")
        if name not in [n for n, _ in names]:
            names.append((name, as_int(tag.get("order"), "order", 0)))
    group = None
    if b.get("group_id"):
        group = sim.tag_groups.get(b["group_id"])
        if group is None or group.get("deleted"):
            raise ApiError(40068, f"group_id {b['group_id']}")
    else:
        group_name = str(b.get("group_name") or "").strip()
        if not group_name or len(group_name) > 30:
            raise ApiError(40071, "group_name is required (≤ 30 characters) without group_id")
        group = next((g for g in sim.tag_groups.values() if g["group_name"] == group_name and not g.get("deleted")),
                     None)
        if group is None:
            if sim.live_tag_count() + len(names) > 3000:
                raise ApiError(40126)
            group = sim.new_tag_group(group_name, as_int(b.get("order"), "order", 0))
    existing = {sim.tags[t]["name"]: sim.tags[t] for t in group["tags"] if not sim.tags[t].get("deleted")}
    if sim.live_tag_count() + sum(1 for n, _ in names if n not in existing) > 3000:
        raise ApiError(40126)
    chosen = []
    for name, order in names:
        tag = existing.get(name) or sim.new_tag(group, name, order)
        chosen.append(tag["id"])
    sim.changed()
    out = sim.group_json(group, tag_ids=chosen)
    return {"tag_group": out}


@endpoint("externalcontact/edit_corp_tag")
def edit_corp_tag(sim: Simulator, req: Request) -> dict:
    b = req.body
    obj_id = b.get("id")
    if not obj_id:
        raise ApiError(40068, "id is required")
    name = b.get("name")
    if name is not None and (not str(name).strip() or len(str(name)) > 30):
        raise ApiError(40071, "name is empty or longer than 30 characters")
    if obj_id in sim.tags and not sim.tags[obj_id].get("deleted"):
        tag = sim.tags[obj_id]
        if name is not None:
            siblings = sim.tag_groups[tag["group_id"]]["tags"]
            if any(sim.tags[t]["name"] == name and t != obj_id and not sim.tags[t].get("deleted") for t in siblings):
                raise ApiError(40071, "tag name already exists in this group")
            tag["name"] = str(name)
        if b.get("order") is not None:
            tag["order"] = as_int(b["order"], "order")
    elif obj_id in sim.tag_groups and not sim.tag_groups[obj_id].get("deleted"):
        group = sim.tag_groups[obj_id]
        if name is not None:
            if any(g["group_name"] == name and g["group_id"] != obj_id and not g.get("deleted")
                   for g in sim.tag_groups.values()):
                raise ApiError(40071, "group name already exists")
            group["group_name"] = str(name)
        if b.get("order") is not None:
            group["order"] = as_int(b["order"], "order")
    else:
        raise ApiError(40068, f"id {obj_id}")
    sim.changed()
    return {}


@endpoint("externalcontact/del_corp_tag")
def del_corp_tag(sim: Simulator, req: Request) -> dict:
    tag_ids = as_list(req.body.get("tag_id"), "tag_id")
    group_ids = as_list(req.body.get("group_id"), "group_id")
    if not tag_ids and not group_ids:
        raise ApiError(41017, "tag_id and group_id are both empty")
    for tag_id in tag_ids:
        if tag_id not in sim.tags or sim.tags[tag_id].get("deleted"):
            raise ApiError(40068, f"tag_id {tag_id}")
    for group_id in group_ids:
        if group_id not in sim.tag_groups or sim.tag_groups[group_id].get("deleted"):
            raise ApiError(40068, f"group_id {group_id}")
    for tag_id in tag_ids:
        sim.delete_tag(tag_id)
    for group_id in group_ids:
        sim.delete_tag_group(group_id)
    return {}


@endpoint("externalcontact/mark_tag")
def mark_tag(sim: Simulator, req: Request) -> dict:
    b = req.body
    member = sim.member(b.get("userid"))
    sim.customer(b.get("external_userid"))
    add = as_list(b.get("add_tag"), "add_tag")
    remove = as_list(b.get("remove_tag"), "remove_tag")
    if not add and not remove:
        raise ApiError(40058, "add_tag and remove_tag are both empty")
    for tag_id in add + remove:
        if tag_id not in sim.tags or sim.tags[tag_id].get("deleted"):
            raise ApiError(40068, f"tag_id {tag_id}")
    follow = sim.require_follow(member["userid"], b["external_userid"])
    for tag_id in add:
        if tag_id not in follow["tags"]:
            follow["tags"].append(tag_id)
    for tag_id in remove:
        if tag_id in follow["tags"]:
            follow["tags"].remove(tag_id)
    sim.changed()
    return {}


# ====================================================================================== contact ways
def _check_way_users(sim: Simulator, users: list, party: list) -> None:
    for userid in users:
        member = sim.members.get(str(userid))
        if member is None or member["status"] == "resigned":
            raise ApiError(40003, f"userid {userid}")
        problem = sim.member_problem(member)
        if problem:
            raise ApiError(problem, f"userid {userid}")
    for dept in party:
        if as_int(dept, "party") not in sim.departments:
            raise ApiError(60003, f"department {dept}")
    total = set(map(str, users)) | set(sim.members_of_departments([int(d) for d in party]) if party else [])
    if len(total) > 100:
        raise ApiError(41041)


def _validate_way_text(b: dict) -> None:
    if b.get("state") is not None and text_len(b.get("state")) > 30:
        raise ApiError(40058, "state exceeds 30 characters")
    if b.get("remark") is not None and text_len(b.get("remark")) > 30:
        raise ApiError(40058, "remark exceeds 30 characters")


def _qr_url(sim: Simulator, config_id: str, kind: str = "contact") -> str:
    return f"{sim.config.base_url}/sim/qr/{kind}/{config_id}.png"


@endpoint("externalcontact/add_contact_way")
def add_contact_way(sim: Simulator, req: Request) -> dict:
    b = req.body
    if b.get("type") in (None, ""):
        raise ApiError(41037)
    if b.get("scene") in (None, ""):
        raise ApiError(41038)
    way_type = as_int(b["type"], "type")
    scene = as_int(b["scene"], "scene")
    if way_type not in (1, 2):
        raise ApiError(41039)
    if scene not in (1, 2):
        raise ApiError(41040)
    style = as_int(b.get("style"), "style", None)
    if style is not None and not 1 <= style <= 20:
        raise ApiError(41042)
    _validate_way_text(b)
    users = [str(u) for u in as_list(b.get("user"), "user")]
    party = as_list(b.get("party"), "party")
    if way_type == 1 and (len(users) != 1 or party):
        raise ApiError(40058, "type 1 needs exactly one user and no party")
    if way_type == 2 and not users and not party:
        raise ApiError(40058, "user or party is required")
    is_temp = bool(b.get("is_temp", False))
    if is_temp and (way_type != 1):
        raise ApiError(40058, "is_temp supports a single user only")
    _check_way_users(sim, users, party)
    if len(sim.contact_ways) + len(sim.join_ways) >= 500000:
        raise ApiError(41045)
    expires_in = as_int(b.get("expires_in"), "expires_in", 7 * 86400)
    chat_expires_in = as_int(b.get("chat_expires_in"), "chat_expires_in", 86400)
    if is_temp and not (0 < expires_in <= 14 * 86400 and 0 < chat_expires_in <= 14 * 86400):
        raise ApiError(40058, "expires_in / chat_expires_in must be within 14 days")
    config_id = rand(32, "0123456789abcdef")
    way = {"config_id": config_id, "type": way_type, "scene": scene, "style": style or 1,
           "remark": str(b.get("remark") or ""), "skip_verify": bool(b.get("skip_verify", True)),
           "state": str(b.get("state") or ""), "user": users, "party": [int(p) for p in party], "is_temp": is_temp,
           "expires_in": expires_in if is_temp else 0, "chat_expires_in": chat_expires_in if is_temp else 0,
           "unionid": str(b.get("unionid") or ""), "conclusions": b.get("conclusions") or {},
           "created_at": sim.inow(), "expires_at": sim.inow() + expires_in if is_temp else None, "seq": sim.next_seq()}
    sim.contact_ways[config_id] = way
    sim.changed()
    out = {"config_id": config_id}
    if scene == 2:
        out["qr_code"] = _qr_url(sim, config_id)
    return out


def _way(sim: Simulator, b: dict) -> dict:
    config_id = b.get("config_id")
    if not config_id:
        raise ApiError(41043)
    way = sim.contact_ways.get(config_id)
    if way is None:
        raise ApiError(41044, f"config_id {config_id}")
    return way


@endpoint("externalcontact/get_contact_way")
def get_contact_way(sim: Simulator, req: Request) -> dict:
    way = _way(sim, req.body)
    out = {k: way[k] for k in ("config_id", "type", "scene", "style", "remark", "skip_verify", "state", "user",
                               "party", "is_temp", "expires_in", "chat_expires_in", "unionid", "conclusions")}
    out["user"] = list(out["user"])
    out["party"] = list(out["party"])
    if way["scene"] == 2:
        out["qr_code"] = _qr_url(sim, way["config_id"])
    return {"contact_way": out}


@endpoint("externalcontact/list_contact_way")
def list_contact_way(sim: Simulator, req: Request) -> dict:
    b = req.body
    now = sim.inow()
    start = as_int(b.get("start_time"), "start_time", now - 90 * 86400)
    end = as_int(b.get("end_time"), "end_time", now)
    if end < start:
        raise ApiError(40058, "end_time is before start_time")
    limit = max(1, min(1000, as_int(b.get("limit"), "limit", 100)))
    after = decode_cursor(b.get("cursor"), 1)
    ways = sorted((w for w in sim.contact_ways.values() if not w["is_temp"] and start <= w["created_at"] <= end),
                  key=lambda w: w["seq"])
    if after:
        ways = [w for w in ways if w["seq"] > after[0]]
    page = ways[:limit]
    out = {"contact_way": [{"config_id": w["config_id"]} for w in page]}
    out["next_cursor"] = encode_cursor(page[-1]["seq"]) if len(ways) > limit else ""
    return out


@endpoint("externalcontact/update_contact_way")
def update_contact_way(sim: Simulator, req: Request) -> dict:
    b = req.body
    way = _way(sim, b)
    if way["is_temp"] and way.get("expires_at") and way["expires_at"] < sim.now():
        raise ApiError(41044, "temporary contact way expired")
    _validate_way_text(b)
    if "style" in b and b["style"] is not None:
        style = as_int(b["style"], "style")
        if not 1 <= style <= 20:
            raise ApiError(41042)
        way["style"] = style
    users = [str(u) for u in as_list(b.get("user"), "user")] if "user" in b else None
    party = as_list(b.get("party"), "party") if "party" in b else None
    if users is not None or party is not None:
        new_users = users if users is not None else way["user"]
        new_party = party if party is not None else way["party"]
        if way["type"] == 1 and (len(new_users) != 1 or new_party):
            raise ApiError(40058, "type 1 needs exactly one user and no party")
        _check_way_users(sim, new_users, new_party)
        way["user"] = new_users
        way["party"] = [int(p) for p in new_party]
    for key in ("remark", "state", "unionid"):
        if key in b and b[key] is not None:
            way[key] = str(b[key])
    if "skip_verify" in b and b["skip_verify"] is not None:
        way["skip_verify"] = bool(b["skip_verify"])
    if "conclusions" in b and b["conclusions"] is not None:
        way["conclusions"] = b["conclusions"]
    for key in ("expires_in", "chat_expires_in"):
        if key in b and b[key] is not None and way["is_temp"]:
            way[key] = as_int(b[key], key)
    sim.changed()
    return {}


@endpoint("externalcontact/del_contact_way")
def del_contact_way(sim: Simulator, req: Request) -> dict:
    way = _way(sim, req.body)
    del sim.contact_ways[way["config_id"]]
    sim.changed()
    return {}


@endpoint("externalcontact/close_temp_chat")
def close_temp_chat(sim: Simulator, req: Request) -> dict:
    member = sim.member(req.body.get("userid"))
    sim.customer(req.body.get("external_userid"))
    sim.require_follow(member["userid"], req.body["external_userid"])
    return {}


# ====================================================================================== group join ways
def _validate_join_way(sim: Simulator, b: dict) -> list[str]:
    scene = as_int(b.get("scene"), "scene", None)
    if scene not in (1, 2):
        raise ApiError(40058, "scene must be 1 or 2")
    chats = [str(c) for c in as_list(b.get("chat_id_list"), "chat_id_list")]
    if not chats:
        raise ApiError(40058, "chat_id_list is required")
    if len(chats) > 5:
        raise ApiError(41091)
    for chat_id in chats:
        chat = sim.groupchats.get(chat_id)
        if chat is None or chat.get("dismissed"):
            raise ApiError(40050, f"chat_id {chat_id}")
    if b.get("state") is not None and text_len(b.get("state")) > 30:
        raise ApiError(40058, "state exceeds 30 characters")
    if b.get("room_base_name") is not None and len(str(b["room_base_name"]).encode("utf-8")) > 40:
        raise ApiError(40058, "room_base_name exceeds 40 bytes")
    return chats


def _join_way_fields(b: dict, chats: list[str]) -> dict:
    return {"scene": int(b["scene"]), "remark": str(b.get("remark") or "")[:30],
            "auto_create_room": int(b.get("auto_create_room", 1) or 0), "room_base_name": str(b.get("room_base_name") or ""),
            "room_base_id": int(b.get("room_base_id") or 0), "chat_id_list": chats, "state": str(b.get("state") or "")}


@endpoint("externalcontact/groupchat/add_join_way")
def add_join_way(sim: Simulator, req: Request) -> dict:
    chats = _validate_join_way(sim, req.body)
    if len(sim.contact_ways) + len(sim.join_ways) >= 500000:
        raise ApiError(41045)
    config_id = rand(32, "0123456789abcdef")
    sim.join_ways[config_id] = {"config_id": config_id, **_join_way_fields(req.body, chats),
                                "created_at": sim.inow(), "seq": sim.next_seq()}
    sim.changed()
    return {"config_id": config_id}


def _join_way(sim: Simulator, b: dict) -> dict:
    config_id = b.get("config_id")
    if not config_id:
        raise ApiError(41043)
    way = sim.join_ways.get(config_id)
    if way is None:
        raise ApiError(41044, f"config_id {config_id}")
    return way


@endpoint("externalcontact/groupchat/get_join_way")
def get_join_way(sim: Simulator, req: Request) -> dict:
    way = _join_way(sim, req.body)
    out = {k: way[k] for k in ("config_id", "scene", "remark", "auto_create_room", "room_base_name", "room_base_id",
                               "state")}
    out["chat_id_list"] = list(way["chat_id_list"])
    out["qr_code"] = _qr_url(sim, way["config_id"], "join")
    return {"join_way": out}


@endpoint("externalcontact/groupchat/update_join_way")
def update_join_way(sim: Simulator, req: Request) -> dict:
    way = _join_way(sim, req.body)
    chats = _validate_join_way(sim, req.body)
    way.update(_join_way_fields(req.body, chats))
    sim.changed()
    return {}


@endpoint("externalcontact/groupchat/del_join_way")
def del_join_way(sim: Simulator, req: Request) -> dict:
    way = _join_way(sim, req.body)
    del sim.join_ways[way["config_id"]]
    sim.changed()
    return {}


# ====================================================================================== welcome message
ATTACHMENT_TYPES = ("image", "link", "miniprogram", "video", "file")


@endpoint("externalcontact/send_welcome_msg")
def send_welcome_msg(sim: Simulator, req: Request) -> dict:
    b = req.body
    code = b.get("welcome_code")
    if not code:
        raise ApiError(41049)
    info = sim.welcome_codes.get(code)
    if info is None:
        raise ApiError(41050)
    if info["used_at"] is not None:
        raise ApiError(41051)
    if sim.now() - info["issued_at"] > float(sim.config.welcome_code_ttl):
        raise ApiError(41050, "welcome_code expired (20 s)")
    if (info["userid"], info["external_userid"]) in sim.chatted:
        raise ApiError(41051)
    text = b.get("text") or {}
    if not isinstance(text, dict):
        raise ApiError(40058, "text must be an object")
    content = str(text.get("content") or "")
    if len(content.encode("utf-8")) > 4000:
        raise ApiError(40058, "text.content exceeds 4000 bytes")
    attachments = as_list(b.get("attachments"), "attachments")
    if not content and not attachments:
        raise ApiError(40058, "text and attachments are both empty")
    if len(attachments) > 9:
        raise ApiError(41064)
    for item in attachments:
        if not isinstance(item, dict) or item.get("msgtype") not in ATTACHMENT_TYPES:
            raise ApiError(41065)
        body = item.get(item["msgtype"])
        if not isinstance(body, dict):
            raise ApiError(41065, f"{item['msgtype']} object missing")
        kind = item["msgtype"]
        if kind == "image" and not (body.get("media_id") or body.get("pic_url")):
            raise ApiError(40058, "image needs media_id or pic_url")
        if kind == "link" and (not body.get("title") or not body.get("url")):
            raise ApiError(40058, "link needs title and url")
        if kind == "link" and (len(str(body.get("title")).encode()) > 128 or len(str(body.get("desc") or "").encode()) > 512):
            raise ApiError(40058, "link title > 128 bytes or desc > 512 bytes")
        if kind == "miniprogram" and not (body.get("title") and body.get("appid") and body.get("page")
                                          and body.get("pic_media_id")):
            raise ApiError(40058, "miniprogram needs title, pic_media_id, appid, page")
        if kind == "miniprogram" and len(str(body.get("title")).encode()) > 64:
            raise ApiError(40058, "miniprogram title exceeds 64 bytes")
        if kind in ("video", "file") and not body.get("media_id"):
            raise ApiError(40058, f"{kind} needs media_id")
    info["used_at"] = sim.now()
    sim.welcome_messages.append({
        "id": len(sim.welcome_messages) + 1, "kind": "welcome", "welcome_code": code, "userid": info["userid"],
        "external_userid": info["external_userid"], "text": {"content": content} if content else None,
        "attachments": attachments, "sent_at": sim.inow(), "delay_seconds": round(sim.now() - info["issued_at"], 3),
    })
    sim.changed()
    return {}


# ====================================================================================== app messages
@endpoint("message/send")
def message_send(sim: Simulator, req: Request) -> dict:
    """The self-built app's message to members (应用消息), text only; recorded with the welcome messages."""
    if req.token_kind != "agent":
        raise ApiError(48002, "message/send needs the app's (agent) access_token")
    b = req.body
    if b.get("agentid") in (None, ""):
        raise ApiError(41011)
    if str(b.get("agentid")) != str(sim.config.agent_id):
        raise ApiError(40056)
    if b.get("msgtype") != "text":
        raise ApiError(40058, "the simulator supports msgtype text")
    content = str((b.get("text") or {}).get("content") or "")
    if not content or len(content.encode("utf-8")) > 2048:
        raise ApiError(40058, "text.content must be 1-2048 bytes")
    wanted = [u for u in str(b.get("touser") or "").split("|") if u]
    valid = [u for u in wanted if u in sim.members and sim.members[u]["status"] != "resigned"]
    if not valid:
        raise ApiError(81013)
    msgid = rand(24)
    for userid in valid:
        sim.welcome_messages.append({"id": len(sim.welcome_messages) + 1, "kind": "app_message", "userid": userid,
                                     "external_userid": "", "text": {"content": content}, "attachments": [],
                                     "msgid": msgid, "sent_at": sim.inow()})
    sim.changed()
    return {"invaliduser": "|".join(u for u in wanted if u not in valid), "msgid": msgid}


# ====================================================================================== group chats
def _owner_filter(b: dict) -> list[str] | None:
    owner_filter = b.get("owner_filter") or {}
    if not isinstance(owner_filter, dict):
        raise ApiError(40058, "owner_filter must be an object")
    userids = as_list(owner_filter.get("userid_list"), "owner_filter.userid_list")
    if len(userids) > 100:
        raise ApiError(40058, "owner_filter.userid_list exceeds 100")
    return [str(u) for u in userids] or None


@endpoint("externalcontact/groupchat/list")
def groupchat_list(sim: Simulator, req: Request) -> dict:
    b = req.body
    limit = as_int(b.get("limit"), "limit", None)
    if limit is None or not 1 <= limit <= 1000:
        raise ApiError(40058, "limit must be 1-1000")
    status_filter = as_int(b.get("status_filter"), "status_filter", 0)
    if status_filter not in (0, 1, 2, 3):
        raise ApiError(40058, "status_filter must be 0-3")
    owners = _owner_filter(b)
    after = decode_cursor(b.get("cursor"), 1)
    chats = [c for c in sorted(sim.groupchats.values(), key=lambda c: c["seq"]) if not c.get("dismissed")]
    if status_filter:
        chats = [c for c in chats if c["status"] == status_filter]
    if owners is not None:
        chats = [c for c in chats if c["owner"] in owners]
    if after:
        chats = [c for c in chats if c["seq"] > after[0]]
    page = chats[:limit]
    return {"group_chat_list": [{"chat_id": c["chat_id"], "status": c["status"]} for c in page],
            "next_cursor": encode_cursor(page[-1]["seq"]) if len(chats) > limit else ""}


@endpoint("externalcontact/groupchat/get")
def groupchat_get(sim: Simulator, req: Request) -> dict:
    chat = sim.chat(req.body.get("chat_id"))
    need_name = as_int(req.body.get("need_name"), "need_name", 0) == 1
    members = []
    for entry in chat["member_list"]:
        item = {k: v for k, v in entry.items() if k != "state" or v}
        if need_name:
            if entry["type"] == 1:
                item["name"] = sim.members.get(entry["userid"], {}).get("name", "")
            else:
                item["name"] = sim.customers.get(entry["userid"], {}).get("name", "")
        members.append(item)
    return {"group_chat": {"chat_id": chat["chat_id"], "name": chat["name"], "owner": chat["owner"],
                           "create_time": chat["create_time"], "notice": chat["notice"], "member_list": members,
                           "admin_list": list(chat["admin_list"]), "member_version": chat["member_version"]}}


def _group_transfer(sim: Simulator, req: Request, resigned: bool) -> dict:
    b = req.body
    chat_ids = [str(c) for c in as_list(b.get("chat_id_list"), "chat_id_list")]
    if not chat_ids:
        raise ApiError(40058, "chat_id_list is required")
    if len(chat_ids) > 100:
        raise ApiError(40058, "chat_id_list exceeds 100")
    new_owner = sim.member(b.get("new_owner"))
    problem = sim.member_problem(new_owner)
    if problem:
        raise ApiError(problem, f"new_owner {new_owner['userid']}")
    today = sim.shanghai_day()
    done_today = sum(1 for t in sim.group_transfers if t["new_owner"] == new_owner["userid"] and t["day"] == today)
    failed = []
    for chat_id in chat_ids:
        chat = sim.groupchats.get(chat_id)
        if chat is None or chat.get("dismissed"):
            failed.append((chat_id, 90501))
            continue
        owner = sim.members.get(chat["owner"])
        owner_resigned = owner is None or owner["status"] == "resigned"
        if resigned:
            if chat["status"] == 2:
                failed.append((chat_id, 90507))
                continue
            if not owner_resigned:
                failed.append((chat_id, 90508 if chat["status"] == 3 else 90500))
                continue
        else:
            if owner_resigned:
                failed.append((chat_id, 90502))
                continue
            if chat["owner"] == new_owner["userid"]:
                failed.append((chat_id, 90504))
                continue
            cutoff = sim.now() - 90 * 86400
            if sum(1 for t in chat.get("transfers", []) if t["kind"] == "onjob" and t["at"] >= cutoff) >= 2:
                failed.append((chat_id, 40128))
                continue
        if done_today >= 300:
            failed.append((chat_id, 45009))
            continue
        done_today += 1
        chat["transfers"] = chat.get("transfers", []) + [{"kind": "resigned" if resigned else "onjob",
                                                          "from": chat["owner"], "to": new_owner["userid"],
                                                          "at": sim.now()}]
        sim.group_transfers.append({"chat_id": chat_id, "new_owner": new_owner["userid"], "day": today})
        chat["owner"] = new_owner["userid"]
        chat["status"] = 3 if resigned else 0
        if new_owner["userid"] not in {m["userid"] for m in chat["member_list"]}:
            chat["member_list"].append(sim._chat_member(new_owner["userid"], 1, sim.inow(), 1, None, ""))
    sim.changed()
    return {"failed_chat_list": [{"chat_id": c, "errcode": code, "errmsg": ERRMSG.get(code, "")} for c, code in failed]}


@endpoint("externalcontact/groupchat/transfer")
def groupchat_transfer(sim: Simulator, req: Request) -> dict:
    return _group_transfer(sim, req, resigned=True)


@endpoint("externalcontact/groupchat/onjob_transfer")
def groupchat_onjob_transfer(sim: Simulator, req: Request) -> dict:
    return _group_transfer(sim, req, resigned=False)


# ====================================================================================== inheritance
@endpoint("externalcontact/get_unassigned_list")
def get_unassigned_list(sim: Simulator, req: Request) -> dict:
    b = req.body
    page_size = as_int(b.get("page_size"), "page_size", 1000)
    page_size = max(1, min(1000, page_size))
    rows = sim.unassigned()
    cursor_mode = "cursor" in b and b.get("cursor") is not None
    if cursor_mode:
        after = decode_cursor(b.get("cursor"), 2)
        if after:
            rows = [r for r in rows if r["_key"] > after]
        page = rows[:page_size]
        is_last = len(rows) <= page_size
        out = {"info": [{k: v for k, v in r.items() if k != "_key"} for r in page], "is_last": is_last,
               "next_cursor": "" if is_last else encode_cursor(*page[-1]["_key"])}
        return out
    page_id = as_int(b.get("page_id"), "page_id", 0)
    if page_id < 0:
        raise ApiError(40058, "page_id must be >= 0")
    if page_id * page_size >= 50000:
        raise ApiError(40058, "page_id * page_size must be < 50000; use cursor")
    start = page_id * page_size
    page = rows[start:start + page_size]
    return {"info": [{k: v for k, v in r.items() if k != "_key"} for r in page],
            "is_last": start + page_size >= len(rows)}


def _transfer_customers(sim: Simulator, req: Request, kind: str) -> dict:
    b = req.body
    handover_id, takeover_id = b.get("handover_userid"), b.get("takeover_userid")
    if not handover_id or not takeover_id:
        raise ApiError(41009, "handover_userid and takeover_userid are required")
    euids = [str(e) for e in as_list(b.get("external_userid"), "external_userid")]
    if not euids:
        raise ApiError(41035)
    if len(euids) > 100:
        raise ApiError(40058, "external_userid exceeds 100")
    msg = b.get("transfer_success_msg")
    if kind == "onjob" and msg is not None and len(str(msg)) > 200:
        raise ApiError(40058, "transfer_success_msg exceeds 200 characters")
    handover = sim.member(handover_id, allow_resigned=(kind == "resigned"))
    takeover = sim.member(takeover_id)
    takeover_problem = sim.member_problem(takeover)
    limit_room = takeover["customer_limit"] - sim.customer_count(takeover["userid"]) - sim.pending_incoming(
        takeover["userid"])
    results = []
    for euid in euids:
        code = 0
        follow = sim.follows.get((handover["userid"], euid))
        waiting = [t for t in sim.transfers_by_customer.get(euid, ()) if t["status"] == 2]
        if euid not in sim.customers:
            code = 40096
        elif handover["userid"] == takeover["userid"]:
            code = 40130
        elif kind == "resigned" and handover["status"] != "resigned":
            code = 40097
        elif takeover_problem:
            code = takeover_problem
        elif follow is None or follow["status"] == "half":
            code = 40131
        elif follow["status"] == "customer_deleted":
            code = 84061
        elif any(t["handover_userid"] == handover["userid"] for t in waiting):
            code = 40100 if kind == "resigned" else 40129
        elif waiting:
            code = 40129
        elif kind == "onjob" and sim.onjob_transfers_in_window(euid) >= 2:
            code = 40128
        elif sim.follows.get((takeover["userid"], euid)) is None and limit_room <= 0:
            code = 40099
        if code == 0:
            sim.start_transfer(kind, handover["userid"], takeover["userid"], euid,
                               msg=str(msg or "") if kind == "onjob" else "")
            limit_room -= 1
        results.append({"external_userid": euid, "errcode": code})
    return {"customer": results}


@endpoint("externalcontact/resigned/transfer_customer")
def resigned_transfer_customer(sim: Simulator, req: Request) -> dict:
    return _transfer_customers(sim, req, "resigned")


@endpoint("externalcontact/transfer_customer")
def transfer_customer(sim: Simulator, req: Request) -> dict:
    return _transfer_customers(sim, req, "onjob")


def _transfer_result(sim: Simulator, req: Request, kind: str) -> dict:
    b = req.body
    handover, takeover = b.get("handover_userid"), b.get("takeover_userid")
    if not handover or not takeover:
        raise ApiError(41009, "handover_userid and takeover_userid are required")
    sim.tick()
    latest: dict[str, dict] = {}
    for transfer in sim.transfers:
        if transfer["kind"] == kind and transfer["handover_userid"] == handover and \
                transfer["takeover_userid"] == takeover:
            latest.pop(transfer["external_userid"], None)
            latest[transfer["external_userid"]] = transfer
    rows = sorted(latest.values(), key=lambda t: t["id"])
    after = decode_cursor(b.get("cursor"), 1)
    if after:
        rows = [t for t in rows if t["id"] > after[0]]
    page = rows[:1000]
    return {"customer": [sim.transfer_json(t) for t in page],
            "next_cursor": encode_cursor(page[-1]["id"]) if len(rows) > 1000 else ""}


@endpoint("externalcontact/resigned/transfer_result")
def resigned_transfer_result(sim: Simulator, req: Request) -> dict:
    return _transfer_result(sim, req, "resigned")


@endpoint("externalcontact/transfer_result")
def transfer_result(sim: Simulator, req: Request) -> dict:
    return _transfer_result(sim, req, "onjob")


# ====================================================================================== moments
@endpoint("externalcontact/get_moment_list")
def get_moment_list(sim: Simulator, req: Request) -> dict:
    b = req.body
    start = as_int(b.get("start_time"), "start_time", None)
    end = as_int(b.get("end_time"), "end_time", None)
    if start is None or end is None:
        raise ApiError(40058, "start_time and end_time are required")
    if end < start:
        raise ApiError(40058, "end_time is before start_time")
    if end - start > 30 * 86400:
        raise ApiError(40058, "the time range exceeds 30 days")
    filter_type = as_int(b.get("filter_type"), "filter_type", 2)
    if filter_type not in (0, 1, 2):
        raise ApiError(40058, "filter_type must be 0, 1 or 2")
    limit = max(1, min(20, as_int(b.get("limit"), "limit", 20)))
    creator = b.get("creator")
    after = decode_cursor(b.get("cursor"), 1)
    moments = sorted((m for m in sim.moments.values() if start <= m["create_time"] <= end), key=lambda m: m["seq"])
    if creator:
        moments = [m for m in moments if m["creator"] == creator]
    if filter_type in (0, 1):
        moments = [m for m in moments if m["create_type"] == filter_type]
    if after:
        moments = [m for m in moments if m["seq"] > after[0]]
    page = moments[:limit]
    return {"moment_list": [{k: v for k, v in m.items() if k != "seq"} for m in page],
            "next_cursor": encode_cursor(page[-1]["seq"]) if len(moments) > limit else ""}
