"""Simulator state and domain logic: members, customers, follow relationships, tags, contact ways,
group chats, inheritance (transfers), moments, welcome codes, OAuth codes, tokens and the clock.

Everything here runs under `Simulator.lock` (an RLock). The HTTP layer (server.py) and the WeCom API
handlers (api.py) / control API (control.py) call into it. Events are handed to the callback
dispatcher (callbacks.py), which delivers them on background threads.
"""

from __future__ import annotations

import base64
import bisect
import copy
import hashlib
import heapq
import itertools
import json
import os
import random
import secrets
import string
import threading
import time
from collections import deque
from typing import Any

from .callbacks import Dispatcher, event_xml
from .config import OUTCOMES, SimConfig
from .errcodes import ERRMSG

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
MEMBER_STATUSES = ("active", "inactive", "unverified", "resigned")
NINETY_DAYS = 90 * 86400
SHANGHAI = 8 * 3600


_random = random.Random(secrets.randbits(128))


def rand(n: int, alphabet: str = ALNUM) -> str:
    """Random id characters. Not for real secrets: this is a simulator (and ids must be cheap in bulk)."""
    return "".join(_random.choices(alphabet, k=n))


class ApiError(Exception):
    """A WeCom errcode answer: {"errcode": n, "errmsg": "..."} plus optional extra fields."""

    def __init__(self, errcode: int, hint: str | None = None, extra: dict | None = None):
        super().__init__(f"{errcode} {hint or ''}")
        self.errcode = errcode
        self.hint = hint
        self.extra = extra or {}


class ControlError(Exception):
    """An error of the /sim/ control API: HTTP status + machine code + message."""

    def __init__(self, message: str, code: str = "bad_request", status: int = 400):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def errmsg(errcode: int, hint: str | None = None, ip: str = "127.0.0.1") -> str:
    if errcode == 0:
        return "ok"
    base = ERRMSG.get(errcode, "unknown error")
    if hint:
        base = f"{base} ({hint})"
    stamp = f"{int(time.time())}{secrets.randbelow(10**15):015d}"
    return (f"{base}, hint: [{stamp}], from ip: {ip}, "
            f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}")


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(parts, list) or len(parts) != arity:
            raise ValueError
        return parts
    except Exception as exc:
        raise ApiError(40058, "invalid cursor") from exc


def text_len(value: Any) -> int:
    return len(str(value or ""))


class Simulator:
    """The simulated WeCom corp. Create with a SimConfig; `start()` / `stop()` its threads."""

    def __init__(self, config: SimConfig | None = None):
        self.config = config or SimConfig()
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self._clock_lock = threading.Lock()
        start = self.config.start_time
        self._offset = 0.0 if start is None else start - time.time()
        self._frozen_at: float | None = (start if start is not None else time.time()) if self.config.frozen else None
        self._inflight: dict[str, int] = {}
        self._inflight_lock = threading.Lock()
        self._rate: dict[str, deque] = {}
        self.forced_errors: list[dict] = []
        self.calls: deque[dict] = deque(maxlen=self.config.calls_keep)
        self.call_counts: dict[str, dict[str, int]] = {}
        self._call_seq = itertools.count(1)
        self.dispatcher: Dispatcher | None = None
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._dirty = False
        self.server = None  # set by server.py
        self._reset_state()
        if self.config.state_file and os.path.exists(self.config.state_file):
            self.load(self.config.state_file)

    @property
    def base_url(self) -> str:
        """Root URL of this simulator, e.g. http://127.0.0.1:8090 (public_url when configured)."""
        return self.config.base_url

    @property
    def api_base_url(self) -> str:
        """What the platform's WECOM_API_BASE should be: base_url + "/cgi-bin/"."""
        return self.config.base_url + "/cgi-bin/"

    def wait_deliveries(self, timeout: float = 10.0) -> bool:
        """Block until every queued callback has been delivered (or given up). False on timeout."""
        return self.dispatcher.wait_idle(timeout) if self.dispatcher else True

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(self, workers=self.config.callback_workers, keep=self.config.deliveries_keep)
        ticker = threading.Thread(target=self._tick_loop, name="wecom-sim-ticker", daemon=True)
        ticker.start()
        self._threads.append(ticker)
        if self.config.state_file:
            saver = threading.Thread(target=self._save_loop, name="wecom-sim-saver", daemon=True)
            saver.start()
            self._threads.append(saver)

    def stop(self) -> None:
        """Stop the HTTP server (if any), the ticker, the saver and the callback workers."""
        self._stopped.set()
        if self.server is not None:
            server, self.server = self.server, None
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.config.state_file and self._dirty:
            self.save(self.config.state_file)

    def _tick_loop(self) -> None:
        while not self._stopped.wait(0.2):
            try:
                with self.lock:
                    self.tick()
            except Exception:  # keep ticking
                pass

    def _save_loop(self) -> None:
        interval = 0.5
        while not self._stopped.wait(interval):
            if self._dirty:
                started = time.monotonic()
                try:
                    self.save(self.config.state_file)
                except OSError:
                    pass
                # A big state takes a while to serialise: never spend more than ~20% of the time saving.
                interval = max(0.5, 5 * (time.monotonic() - started))

    def changed(self) -> None:
        self._dirty = True

    # ------------------------------------------------------------------------------ clock
    def now(self) -> float:
        with self._clock_lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        with self._clock_lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds
        with self.lock:
            self.tick()
            self.changed()
        return self.now()

    def set_time(self, epoch: float) -> float:
        with self._clock_lock:
            if self._frozen_at is not None:
                self._frozen_at = epoch
            else:
                self._offset = epoch - time.time()
        with self.lock:
            self.tick()
            self.changed()
        return self.now()

    def freeze(self, frozen: bool) -> float:
        with self._clock_lock:
            if frozen and self._frozen_at is None:
                self._frozen_at = time.time() + self._offset
            elif not frozen and self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None
        return self.now()

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def inow(self) -> int:
        return int(self.now())

    # ------------------------------------------------------------------------------ state
    def _reset_state(self) -> None:
        self.members: dict[str, dict] = {}
        self.departments: dict[int, dict] = {1: {"id": 1, "name": "总部", "name_en": "HQ", "parentid": 0, "order": 1}}
        self.customers: dict[str, dict] = {}
        self.follows: dict[tuple[str, str], dict] = {}
        self.by_user: dict[str, list[dict]] = {}
        self.by_customer: dict[str, list[dict]] = {}
        self.chatted: set[tuple[str, str]] = set()
        self.tag_groups: dict[str, dict] = {}
        self.tags: dict[str, dict] = {}
        self.contact_ways: dict[str, dict] = {}
        self.join_ways: dict[str, dict] = {}
        self.groupchats: dict[str, dict] = {}
        self.transfers: list[dict] = []
        self.transfers_by_customer: dict[str, list[dict]] = {}
        self._pending: list[tuple[float, int]] = []
        self.group_transfers: list[dict] = []
        self.moments: dict[str, dict] = {}
        self.welcome_codes: dict[str, dict] = {}
        self.welcome_messages: list[dict] = []
        self.oauth_codes: dict[str, dict] = {}
        self.user_tickets: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.current_tokens: dict[str, str] = {}
        self.tickets: dict[str, dict] = {}
        self.rr: dict[str, int] = {}

    def reset(self, clear_log: bool = True, keep_tokens: bool = True) -> None:
        """Forget all data. Access tokens and tickets survive unless keep_tokens=False, so a platform that
        cached its token (Redis) keeps working across a reset."""
        with self.lock:
            kept = (self.tokens, self.current_tokens, self.tickets)
            self._reset_state()
            if keep_tokens:
                self.tokens, self.current_tokens, self.tickets = kept
            self.forced_errors.clear()
            self._rate.clear()
            if clear_log:
                self.calls.clear()
                self.call_counts.clear()
                if self.dispatcher is not None:
                    self.dispatcher.clear()
            self.changed()

    def next_seq(self) -> int:
        return next(self._seq)

    # -- persistence -----------------------------------------------------------------------
    def dump(self) -> dict:
        with self.lock:
            return {
                "version": 1,
                "saved_at": time.time(),
                "clock": {"offset": self._offset, "frozen_at": self._frozen_at},
                "seq": next(self._seq),
                "members": self.members,
                "departments": {str(k): v for k, v in self.departments.items()},
                "customers": self.customers,
                "follows": list(self.follows.values()),
                "chatted": sorted([list(p) for p in self.chatted]),
                "tag_groups": self.tag_groups,
                "tags": self.tags,
                "contact_ways": self.contact_ways,
                "join_ways": self.join_ways,
                "groupchats": self.groupchats,
                "transfers": self.transfers,
                "group_transfers": self.group_transfers,
                "moments": self.moments,
                "welcome_codes": self.welcome_codes,
                "welcome_messages": self.welcome_messages[-2000:],
                "tokens": self.tokens,
                "current_tokens": self.current_tokens,
                "tickets": self.tickets,
                "rr": self.rr,
            }

    def save(self, path: str) -> None:
        """Write the state atomically (temp file + rename). Serialised under the lock, written outside."""
        with self.lock:
            self._dirty = False
            text = json.dumps(self.dump(), ensure_ascii=False)
        tmp = f"{path}.tmp{os.getpid()}"
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)

    def load(self, path: str) -> None:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        with self.lock:
            self._reset_state()
            clock = data.get("clock") or {}
            with self._clock_lock:
                self._offset = float(clock.get("offset") or 0.0)
                self._frozen_at = clock.get("frozen_at")
            self._seq = itertools.count(int(data.get("seq") or 1))
            self.members = data.get("members") or {}
            self.departments = {int(k): v for k, v in (data.get("departments") or {}).items()} or self.departments
            self.customers = data.get("customers") or {}
            for follow in sorted(data.get("follows") or [], key=lambda f: f["seq"]):
                self._index_follow(follow)
            self.chatted = {tuple(p) for p in data.get("chatted") or []}
            self.tag_groups = data.get("tag_groups") or {}
            self.tags = data.get("tags") or {}
            self.contact_ways = data.get("contact_ways") or {}
            self.join_ways = data.get("join_ways") or {}
            self.groupchats = data.get("groupchats") or {}
            self.transfers = data.get("transfers") or []
            for transfer in self.transfers:
                self.transfers_by_customer.setdefault(transfer["external_userid"], []).append(transfer)
                if transfer["status"] == 2:
                    heapq.heappush(self._pending, (transfer["takeover_time"], transfer["id"]))
            self.group_transfers = data.get("group_transfers") or []
            self.moments = data.get("moments") or {}
            self.welcome_codes = data.get("welcome_codes") or {}
            self.welcome_messages = data.get("welcome_messages") or []
            self.tokens = data.get("tokens") or {}
            self.current_tokens = data.get("current_tokens") or {}
            self.tickets = data.get("tickets") or {}
            self.rr = data.get("rr") or {}
            self._dirty = False

    # ------------------------------------------------------------------------------ events
    def emit(self, fields: list[tuple[str, Any]], key: str = "") -> dict | None:
        """Queue one callback event. `fields` start after MsgType (Event, ChangeType, ...)."""
        create_time = self.inow()
        head = [("ToUserName", self.config.corp_id), ("FromUserName", "sys"), ("CreateTime", create_time),
                ("MsgType", "event")]
        all_fields = head + [(k, v) for k, v in fields if v is not None]
        xml = event_xml(all_fields)
        summary = {k: v for k, v in all_fields if not isinstance(v, list | tuple) and k not in ("ToUserName",)}
        for k, v in all_fields:
            if isinstance(v, list | tuple):
                summary[k] = list(v)
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(self, workers=self.config.callback_workers, keep=self.config.deliveries_keep)
        record = self.dispatcher.enqueue(xml, summary, key=key)
        return record

    def emit_contact_event(self, change_type: str, userid: str, external_userid: str, **extra: Any) -> dict | None:
        fields: list[tuple[str, Any]] = [
            ("Event", "change_external_contact"), ("ChangeType", change_type),
            ("UserID", userid), ("ExternalUserID", external_userid),
        ]
        for name in ("State", "WelcomeCode", "Source", "FailReason"):
            if extra.get(name) is not None:
                fields.append((name, extra[name]))
        return self.emit(fields, key=external_userid)

    # ------------------------------------------------------------------------------ tokens
    def issue_token(self, kind: str) -> tuple[str, int]:
        now = self.now()
        current = self.current_tokens.get(kind)
        info = self.tokens.get(current) if current else None
        if info and not info.get("invalid") and info["expires_at"] > now:
            return current, int(info["expires_at"] - now)
        token = rand(8, ALNUM) + "-" + rand(150, ALNUM + "-_")
        ttl = int(self.config.token_ttl)
        self.tokens[token] = {"kind": kind, "issued_at": now, "expires_at": now + ttl, "invalid": False}
        self.current_tokens[kind] = token
        self._prune_tokens(now)
        self.changed()
        return token, ttl

    def _prune_tokens(self, now: float) -> None:
        if len(self.tokens) > 500:
            keep = set(self.current_tokens.values())
            for token in [t for t, i in self.tokens.items() if t not in keep and i["expires_at"] < now - 86400]:
                del self.tokens[token]

    def check_token(self, token: str | None) -> str:
        if not token:
            raise ApiError(41001)
        info = self.tokens.get(token)
        if info is None or info.get("invalid"):
            raise ApiError(40014)
        if info["expires_at"] <= self.now():
            raise ApiError(int(self.config.expired_token_errcode))
        return info["kind"]

    def invalidate_tokens(self, kind: str | None = None) -> int:
        count = 0
        for info in self.tokens.values():
            if (kind in (None, "all") or info["kind"] == kind) and not info.get("invalid"):
                info["invalid"] = True
                count += 1
        self.changed()
        return count

    def issue_ticket(self, kind: str) -> tuple[str, int]:
        now = self.now()
        info = self.tickets.get(kind)
        if info and info["expires_at"] > now:
            return info["ticket"], int(info["expires_at"] - now)
        ticket = rand(86, ALNUM + "-_")
        ttl = int(self.config.ticket_ttl)
        self.tickets[kind] = {"ticket": ticket, "expires_at": now + ttl}
        self.changed()
        return ticket, ttl

    # ------------------------------------------------------------------------------ members
    def member(self, userid: str | None, *, allow_resigned: bool = False, errcode: int = 40003) -> dict:
        if not userid:
            raise ApiError(41009)
        member = self.members.get(str(userid))
        if member is None or (member["status"] == "resigned" and not allow_resigned):
            raise ApiError(errcode, f"userid {userid}")
        return member

    def member_problem(self, member: dict) -> int:
        """errcode when the member cannot use customer contact (contact ways, takeover), else 0."""
        status = member["status"]
        if status == "resigned":
            return 40003
        if status == "inactive":
            return 41054
        if status == "unverified":
            return 40098
        if not member.get("customer_contact", True):
            return 84074
        return 0

    def upsert_member(self, data: dict, silent: bool = False) -> tuple[dict, bool]:
        userid = str(data.get("userid") or "").strip()
        if not userid or len(userid) > 64 or not all(c.isalnum() or c in "-_.@" for c in userid):
            raise ControlError("userid is required: 1-64 letters, digits, '-', '_', '.', '@'", "invalid_userid")
        status = data.get("status", None)
        if status is not None and status not in MEMBER_STATUSES:
            raise ControlError(f"status must be one of {MEMBER_STATUSES}", "invalid_status")
        department = data.get("department")
        if department is not None:
            department = [int(d) for d in (department if isinstance(department, list) else [department])]
            for dept in department:
                self.departments.setdefault(dept, {"id": dept, "name": f"部门{dept}", "name_en": "",
                                                   "parentid": 1 if dept != 1 else 0, "order": dept})
        existing = self.members.get(userid)
        created = existing is None
        if created:
            member = {
                "userid": userid, "name": userid, "department": [1], "main_department": 1, "position": "",
                "mobile": "", "gender": "0", "email": "", "avatar": "", "alias": "", "status": "active",
                "customer_limit": int(self.config.default_customer_limit), "customer_contact": True,
                "created_at": self.inow(), "resigned_at": None, "seq": self.next_seq(), "open_userid": rand(30),
            }
        else:
            member = existing
        for key in ("name", "position", "mobile", "email", "avatar", "alias"):
            if key in data and data[key] is not None:
                member[key] = str(data[key])
        if "gender" in data and data["gender"] is not None:
            member["gender"] = str(data["gender"])
        if department is not None:
            member["department"] = department
            member["main_department"] = int(data.get("main_department") or department[0])
        if "customer_limit" in data and data["customer_limit"] is not None:
            member["customer_limit"] = int(data["customer_limit"])
        if "customer_contact" in data:
            member["customer_contact"] = bool(data["customer_contact"])
        was_resigned = member["status"] == "resigned"
        if status is not None:
            if status == "resigned" and not was_resigned:
                self.members[userid] = member
                self.resign_member(userid, silent=silent)
                return member, created
            member["status"] = status
            if was_resigned and status != "resigned":
                member["resigned_at"] = None
        self.members[userid] = member
        self.changed()
        if not silent:
            self.emit_member_event("create_user" if created or was_resigned else "update_user", member)
        return member, created

    def emit_member_event(self, change_type: str, member: dict) -> None:
        fields: list[tuple[str, Any]] = [("Event", "change_contact"), ("ChangeType", change_type),
                                         ("UserID", member["userid"])]
        if change_type != "delete_user":
            status = {"active": 1, "unverified": 1, "inactive": 4}.get(member["status"], 1)
            fields += [
                ("Name", member["name"]), ("Department", ",".join(str(d) for d in member["department"])),
                ("MainDepartment", member["main_department"]), ("IsLeaderInDept", ",".join("0" for _ in member["department"])),
                ("Position", member["position"]), ("Mobile", member["mobile"]), ("Gender", int(member["gender"] or 0)),
                ("Email", member["email"]), ("Status", status), ("Avatar", member["avatar"]), ("Alias", member["alias"]),
            ]
        self.emit(fields, key=member["userid"])

    def resign_member(self, userid: str, silent: bool = False) -> dict:
        member = self.members.get(userid)
        if member is None:
            raise ControlError(f"no member {userid}", "not_found", 404)
        if member["status"] == "resigned":
            raise ControlError(f"member {userid} has already resigned", "already_resigned", 409)
        member["status"] = "resigned"
        member["resigned_at"] = self.inow()
        for chat in self.groupchats.values():
            if chat["owner"] == userid and not chat.get("dismissed"):
                chat["status"] = 1
        self.changed()
        if not silent:
            self.emit_member_event("delete_user", member)
        return member

    def members_of_departments(self, departments: list[int]) -> list[str]:
        wanted = set(self._expand_departments(departments))
        return [u for u, m in self.members.items()
                if m["status"] != "resigned" and wanted.intersection(m["department"])]

    def _expand_departments(self, departments: list[int]) -> list[int]:
        out = set()
        todo = [int(d) for d in departments]
        while todo:
            dept = todo.pop()
            if dept in out:
                continue
            out.add(dept)
            todo.extend(d for d, info in self.departments.items() if info.get("parentid") == dept and d != dept)
        return sorted(out)

    # ------------------------------------------------------------------------------ customers
    def create_customer(self, data: dict) -> dict:
        ctype = int(data.get("type") or 1)
        if ctype not in (1, 2):
            raise ControlError("type must be 1 (WeChat user) or 2 (WeCom user)", "invalid_type")
        euid = data.get("external_userid") or (("wm" if ctype == 1 else "wo") + rand(30))
        if euid in self.customers:
            raise ControlError(f"customer {euid} exists", "exists", 409)
        name = str(data.get("name") or f"客户{len(self.customers) + 1}")
        customer = {
            "external_userid": euid, "name": name, "type": ctype, "gender": int(data.get("gender") or 0),
            "avatar": str(data.get("avatar") or f"http://wx.qlogo.cn/mmhead/{rand(40)}/0"),
            "unionid": data["unionid"] if "unionid" in data else ("o" + rand(27, ALNUM + "-_")),
            "openid": data.get("openid") or ("o" + rand(27, ALNUM + "-_")),
            "seq": self.next_seq(), "created_at": self.inow(),
        }
        if ctype == 2:
            customer.update(position=str(data.get("position") or ""), corp_name=str(data.get("corp_name") or ""),
                            corp_full_name=str(data.get("corp_full_name") or data.get("corp_name") or ""))
        self.customers[euid] = customer
        self.changed()
        return customer

    def customer(self, euid: str | None, errcode: int = 40096) -> dict:
        if not euid:
            raise ApiError(41035)
        customer = self.customers.get(str(euid))
        if customer is None:
            raise ApiError(errcode, f"external_userid {euid}")
        return customer

    def contact_json(self, customer: dict) -> dict:
        out = {"external_userid": customer["external_userid"], "name": customer["name"], "type": customer["type"],
               "avatar": customer["avatar"], "gender": customer["gender"]}
        if customer["type"] == 1 and customer.get("unionid"):
            out["unionid"] = customer["unionid"]
        if customer["type"] == 2:
            out.update(position=customer.get("position", ""), corp_name=customer.get("corp_name", ""),
                       corp_full_name=customer.get("corp_full_name", ""), external_profile={"external_attr": []})
        return out

    # ------------------------------------------------------------------------------ follows
    def _index_follow(self, follow: dict) -> None:
        key = (follow["userid"], follow["external_userid"])
        self.follows[key] = follow
        self.by_user.setdefault(follow["userid"], []).append(follow)
        self.by_customer.setdefault(follow["external_userid"], []).append(follow)

    def _unindex_follow(self, follow: dict) -> None:
        key = (follow["userid"], follow["external_userid"])
        self.follows.pop(key, None)
        for index, owner in ((self.by_user, follow["userid"]), (self.by_customer, follow["external_userid"])):
            items = index.get(owner)
            if items:
                pos = bisect.bisect_left(items, follow["seq"], key=lambda f: f["seq"])
                if pos < len(items) and items[pos] is follow:
                    items.pop(pos)
                else:
                    items.remove(follow)
                if not items:
                    del index[owner]

    def follow(self, userid: str, euid: str) -> dict | None:
        return self.follows.get((userid, euid))

    def follow_visible(self, follow: dict) -> bool:
        member = self.members.get(follow["userid"])
        return (follow["status"] in ("active", "customer_deleted") and member is not None
                and member["status"] != "resigned")

    def require_follow(self, userid: str, euid: str) -> dict:
        follow = self.follows.get((userid, euid))
        if follow is None or follow["status"] == "half":
            raise ApiError(84061, f"{userid} / {euid}")
        return follow

    def customer_count(self, userid: str) -> int:
        return sum(1 for f in self.by_user.get(userid, ()) if f["status"] != "half")

    def new_follow(self, userid: str, euid: str, *, state: str = "", add_way: int = 1, oper_userid: str = "",
                   status: str = "active", createtime: int | None = None, **extra: Any) -> dict:
        follow = {
            "userid": userid, "external_userid": euid, "seq": self.next_seq(),
            "remark": str(extra.get("remark") or ""), "description": str(extra.get("description") or ""),
            "createtime": int(createtime if createtime is not None else self.inow()),
            "tags": list(extra.get("tags") or []), "remark_corp_name": str(extra.get("remark_corp_name") or ""),
            "remark_mobiles": list(extra.get("remark_mobiles") or []), "oper_userid": oper_userid or euid,
            "add_way": int(add_way), "state": state or "", "status": status,
        }
        self._index_follow(follow)
        self.changed()
        return follow

    def remove_follow(self, follow: dict) -> None:
        self._unindex_follow(follow)
        self._cancel_transfers_of(follow)
        self.changed()

    def follow_user_json(self, follow: dict) -> dict:
        out = {"userid": follow["userid"], "remark": follow["remark"], "description": follow["description"],
               "createtime": follow["createtime"], "tags": [], "remark_corp_name": follow["remark_corp_name"],
               "remark_mobiles": list(follow["remark_mobiles"]), "oper_userid": follow["oper_userid"],
               "add_way": follow["add_way"]}
        for tag_id in follow["tags"]:
            tag = self.tags.get(tag_id)
            if tag and not tag.get("deleted"):
                group = self.tag_groups.get(tag["group_id"], {})
                out["tags"].append({"group_name": group.get("group_name", ""), "tag_name": tag["name"],
                                    "tag_id": tag_id, "type": 1})
        if follow["state"]:
            out["state"] = follow["state"]
        return out

    def follow_info_json(self, follow: dict) -> dict:
        out = {"userid": follow["userid"], "remark": follow["remark"], "description": follow["description"],
               "createtime": follow["createtime"],
               "tag_id": [t for t in follow["tags"] if t in self.tags and not self.tags[t].get("deleted")],
               "remark_corp_name": follow["remark_corp_name"], "remark_mobiles": list(follow["remark_mobiles"]),
               "oper_userid": follow["oper_userid"], "add_way": follow["add_way"]}
        if follow["state"]:
            out["state"] = follow["state"]
        return out

    # -- welcome codes ----------------------------------------------------------------------
    def issue_welcome_code(self, userid: str, euid: str, kind: str = "add") -> str:
        code = rand(43, ALNUM + "-_")
        self.welcome_codes[code] = {"code": code, "userid": userid, "external_userid": euid, "kind": kind,
                                    "issued_at": self.now(), "used_at": None}
        if len(self.welcome_codes) > 5000:
            cutoff = self.now() - 86400
            for old in [c for c, i in self.welcome_codes.items() if i["issued_at"] < cutoff]:
                del self.welcome_codes[old]
        self.changed()
        return code

    def _half_code_used(self, userid: str, euid: str) -> bool:
        return any(info["kind"] == "half" and info["used_at"] is not None and info["userid"] == userid
                   and info["external_userid"] == euid for info in self.welcome_codes.values())

    # -- customer adds a member --------------------------------------------------------------
    def customer_adds(self, euid: str, *, config_id: str | None = None, userid: str | None = None,
                      state: str | None = None, add_way: int | None = None, half: bool = False,
                      welcome_code: bool | None = None, oper: str = "customer") -> dict:
        """A customer scans a contact way (config_id) or adds a member directly (userid).

        Emits add_external_contact (or add_half_external_contact when `half`) with State and a fresh
        WelcomeCode, unless the member and customer have chatted before (then WelcomeCode is omitted,
        DOC:92277). `state` overrides the contact way's state (e.g. WeCom's rewritten `wb:1:...`).
        """
        customer = self.customers.get(euid)
        if customer is None:
            raise ControlError(f"no customer {euid}", "not_found", 404)
        way = None
        if config_id:
            way = self.contact_ways.get(config_id)
            if way is None:
                raise ControlError(f"no contact way {config_id}", "not_found", 404)
            if way.get("is_temp") and way.get("expires_at") and way["expires_at"] < self.now():
                raise ControlError("this temporary contact way has expired", "expired", 409)
            candidates = self._way_members(way)
            if userid:
                if userid not in candidates:
                    raise ControlError(f"{userid} is not a member of contact way {config_id}", "not_in_way")
            else:
                eligible = [u for u in candidates if self.member_problem(self.members[u]) == 0
                            and self.customer_count(u) < self.members[u]["customer_limit"]]
                if not eligible:
                    raise ControlError("no eligible member on this contact way", "no_member", 409)
                idx = self.rr.get(config_id, 0)
                userid = eligible[idx % len(eligible)]
                self.rr[config_id] = idx + 1
            if state is None:
                state = way.get("state") or ""
            if add_way is None:
                add_way = 1 if way["scene"] == 2 else 0
        if not userid:
            raise ControlError("config_id or userid is required", "missing_target")
        member = self.members.get(userid)
        if member is None:
            raise ControlError(f"no member {userid}", "not_found", 404)
        problem = self.member_problem(member)
        if problem:
            raise ControlError(f"member {userid} cannot add customers: {problem} {ERRMSG.get(problem, '')}",
                               "member_unavailable", 409)
        state = state or ""
        existing = self.follows.get((userid, euid))
        if existing is not None and existing["status"] == "active":
            return {"userid": userid, "external_userid": euid, "state": existing["state"], "already_friend": True,
                    "welcome_code": None, "event_id": None, "change_type": None}
        if existing is None and self.customer_count(userid) >= member["customer_limit"]:
            raise ControlError(f"member {userid} reached the customer limit {member['customer_limit']}",
                               "customer_limit", 409)
        if add_way is None:
            add_way = 1
        oper_userid = euid if oper == "customer" else userid
        if existing is not None:  # re-add after the customer deleted the member, or half -> half again
            existing.update(status="half" if half else "active", state=state, add_way=int(add_way),
                            oper_userid=oper_userid, createtime=self.inow())
            follow = existing
            self.changed()
        else:
            follow = self.new_follow(userid, euid, state=state, add_way=int(add_way), oper_userid=oper_userid,
                                     status="half" if half else "active")
        chatted = (userid, euid) in self.chatted
        give_code = (not chatted) if welcome_code is None else bool(welcome_code)
        code = self.issue_welcome_code(userid, euid, "half" if half else "add") if give_code else None
        change_type = "add_half_external_contact" if half else "add_external_contact"
        record = self.emit_contact_event(change_type, userid, euid, State=state, WelcomeCode=code)
        return {"userid": userid, "external_userid": euid, "state": state, "already_friend": False,
                "welcome_code": code, "event_id": record["id"] if record else None, "change_type": change_type,
                "follow": self.follow_info_json(follow)}

    def confirm_half(self, userid: str, euid: str) -> dict:
        follow = self.follows.get((userid, euid))
        if follow is None or follow["status"] != "half":
            raise ControlError(f"{euid} has no pending (half) add to {userid}", "not_found", 404)
        follow["status"] = "active"
        self.changed()
        give_code = (userid, euid) not in self.chatted and not self._half_code_used(userid, euid)
        code = self.issue_welcome_code(userid, euid) if give_code else None
        record = self.emit_contact_event("add_external_contact", userid, euid, State=follow["state"], WelcomeCode=code)
        return {"userid": userid, "external_userid": euid, "welcome_code": code, "event_id": record["id"]}

    def _way_members(self, way: dict) -> list[str]:
        users = [u for u in way.get("user") or [] if u in self.members and self.members[u]["status"] != "resigned"]
        if way.get("party"):
            users += [u for u in self.members_of_departments(way["party"]) if u not in users]
        return users

    def member_deletes_customer(self, userid: str, euid: str, source: str | None = None) -> dict:
        follow = self.follows.get((userid, euid))
        if follow is None:
            raise ControlError(f"{euid} is not a customer of {userid}", "not_found", 404)
        self.remove_follow(follow)
        record = self.emit_contact_event("del_external_contact", userid, euid, Source=source)
        return {"event_id": record["id"]}

    def customer_deletes_member(self, euid: str, userid: str) -> dict:
        follow = self.follows.get((userid, euid))
        if follow is None or follow["status"] == "customer_deleted":
            raise ControlError(f"{euid} is not a customer of {userid}", "not_found", 404)
        if follow["status"] == "half":
            self.remove_follow(follow)
        else:
            # One-way relationship: the member still "has" the customer (APIs keep working, DOC 84061).
            follow["status"] = "customer_deleted"
            self._cancel_transfers_of(follow)
            self.changed()
        record = self.emit_contact_event("del_follow_user", userid, euid)
        return {"event_id": record["id"]}

    def mark_chatted(self, euid: str, userid: str) -> dict:
        if (userid, euid) not in self.follows:
            raise ControlError(f"{euid} is not a customer of {userid}", "not_found", 404)
        self.chatted.add((userid, euid))
        self.changed()
        return {"userid": userid, "external_userid": euid, "chatted": True}

    def member_edits_customer(self, userid: str, euid: str, data: dict) -> dict:
        """A member edits remark/description/corp tags in the client -> edit_external_contact."""
        follow = self.follows.get((userid, euid))
        if follow is None or follow["status"] == "half":
            raise ControlError(f"{euid} is not a customer of {userid}", "not_found", 404)
        for key in ("remark", "description", "remark_corp_name"):
            if key in data:
                follow[key] = str(data[key] or "")
        if "remark_mobiles" in data:
            follow["remark_mobiles"] = [m for m in data["remark_mobiles"] or [] if m]
        for tag_id in data.get("add_tag") or []:
            if tag_id not in self.tags or self.tags[tag_id].get("deleted"):
                raise ControlError(f"no tag {tag_id}", "not_found", 404)
            if tag_id not in follow["tags"]:
                follow["tags"].append(tag_id)
        for tag_id in data.get("remove_tag") or []:
            if tag_id in follow["tags"]:
                follow["tags"].remove(tag_id)
        self.changed()
        only_mobiles = set(data) <= {"remark_mobiles"}
        record = None if only_mobiles else self.emit_contact_event("edit_external_contact", userid, euid)
        return {"follow": self.follow_info_json(follow), "event_id": record["id"] if record else None}

    # ------------------------------------------------------------------------------ tags
    def new_tag_group(self, name: str, order: int = 0) -> dict:
        group = {"group_id": "et" + rand(30), "group_name": name, "create_time": self.inow(), "order": int(order),
                 "deleted": False, "tags": [], "seq": self.next_seq()}
        self.tag_groups[group["group_id"]] = group
        return group

    def new_tag(self, group: dict, name: str, order: int = 0) -> dict:
        tag = {"id": "et" + rand(30), "name": name, "create_time": self.inow(), "order": int(order),
               "deleted": False, "group_id": group["group_id"], "seq": self.next_seq()}
        self.tags[tag["id"]] = tag
        group["tags"].append(tag["id"])
        return tag

    def live_tag_count(self) -> int:
        return sum(1 for t in self.tags.values() if not t.get("deleted"))

    def group_json(self, group: dict, tag_ids: list[str] | None = None, with_deleted: bool = False) -> dict:
        out = {"group_id": group["group_id"], "group_name": group["group_name"], "create_time": group["create_time"],
               "order": group["order"], "tag": []}
        if with_deleted:
            out["deleted"] = bool(group.get("deleted"))
        ids = tag_ids if tag_ids is not None else group["tags"]
        tags = [self.tags[t] for t in ids if t in self.tags and (with_deleted or not self.tags[t].get("deleted"))]
        for tag in sorted(tags, key=lambda t: (-t["order"], t["seq"])):
            item = {"id": tag["id"], "name": tag["name"], "create_time": tag["create_time"], "order": tag["order"]}
            if with_deleted:
                item["deleted"] = bool(tag.get("deleted"))
            out["tag"].append(item)
        return out

    def delete_tag(self, tag_id: str) -> None:
        tag = self.tags[tag_id]
        tag["deleted"] = True
        for follow in self.follows.values():
            if tag_id in follow["tags"]:
                follow["tags"].remove(tag_id)
        group = self.tag_groups.get(tag["group_id"])
        if group and all(self.tags[t].get("deleted") for t in group["tags"]):
            group["deleted"] = True
        self.changed()

    def delete_tag_group(self, group_id: str) -> None:
        group = self.tag_groups[group_id]
        for tag_id in group["tags"]:
            if not self.tags[tag_id].get("deleted"):
                self.delete_tag(tag_id)
        group["deleted"] = True
        self.changed()

    def emit_tag_event(self, change_type: str, tag_type: str, obj_id: str) -> dict | None:
        return self.emit([("Event", "change_external_tag"), ("Id", obj_id), ("TagType", tag_type),
                          ("ChangeType", change_type)], key="tags")

    # ------------------------------------------------------------------------------ group chats
    def chat(self, chat_id: str | None, *, errcode: int = 40050, allow_dismissed: bool = False) -> dict:
        if not chat_id:
            raise ApiError(40058, "chat_id is required")
        chat = self.groupchats.get(chat_id)
        if chat is None:
            raise ApiError(errcode, f"chat_id {chat_id}")
        if chat.get("dismissed") and not allow_dismissed:
            raise ApiError(49008, f"chat_id {chat_id}")
        return chat

    @staticmethod
    def _member_version(chat_id: str, n: int) -> str:
        return hashlib.md5(f"{chat_id}:{n}".encode()).hexdigest()

    def create_chat(self, owner: str, name: str = "", members: list[str] | None = None, notice: str = "",
                    admin_list: list[str] | None = None, silent: bool = False) -> dict:
        if owner not in self.members or self.members[owner]["status"] == "resigned":
            raise ControlError(f"owner {owner} is not an active member", "invalid_owner")
        chat_id = "wr" + rand(30)
        now = self.inow()
        chat = {"chat_id": chat_id, "name": name or "", "owner": owner, "create_time": now, "notice": notice or "",
                "member_list": [], "admin_list": [{"userid": u} for u in admin_list or []], "version_n": 0,
                "member_version": "", "status": 0, "dismissed": False, "seq": self.next_seq(), "transfers": []}
        chat["member_list"].append(self._chat_member(owner, 1, now, 1, None, ""))
        for ident in members or []:
            if ident == owner:
                continue
            chat["member_list"].append(self._chat_member(ident, self._ident_type(ident), now, 1, owner, ""))
        chat["member_version"] = self._member_version(chat_id, 0)
        self.groupchats[chat_id] = chat
        self.changed()
        if not silent:
            self.emit([("Event", "change_external_chat"), ("ChatId", chat_id), ("ChangeType", "create")], key=chat_id)
        return chat

    def _ident_type(self, ident: str) -> int:
        if ident in self.members:
            return 1
        if ident in self.customers:
            return 2
        raise ControlError(f"{ident} is neither a member nor a customer", "not_found", 404)

    def _chat_member(self, ident: str, mtype: int, join_time: int, join_scene: int, invitor: str | None,
                     state: str) -> dict:
        entry = {"userid": ident, "type": mtype, "join_time": join_time, "join_scene": join_scene,
                 "group_nickname": "", "state": state}
        if invitor:
            entry["invitor"] = {"userid": invitor}
        if mtype == 2:
            customer = self.customers[ident]
            if customer.get("unionid"):
                entry["unionid"] = customer["unionid"]
        return entry

    def chat_members_change(self, chat_id: str, add: list[str] | None = None, remove: list[str] | None = None,
                            join_scene: int = 1, quit_scene: int = 0, invitor: str | None = None,
                            state: str = "") -> dict:
        chat = self.groupchats.get(chat_id)
        if chat is None or chat.get("dismissed"):
            raise ControlError(f"no (live) group chat {chat_id}", "not_found", 404)
        present = {m["userid"] for m in chat["member_list"]}
        now = self.inow()
        changed_ids: list[str] = []
        event_id = None
        if add:
            for ident in add:
                if ident in present:
                    continue
                mtype = self._ident_type(ident)
                chat["member_list"].append(self._chat_member(ident, mtype, now, join_scene,
                                                             invitor or (chat["owner"] if join_scene == 1 else None),
                                                             state))
                present.add(ident)
                changed_ids.append(ident)
            if changed_ids:
                event_id = self._emit_member_change(chat, "add_member", changed_ids,
                                                    JoinScene=3 if join_scene == 3 else 0)
        removed: list[str] = []
        if remove:
            for ident in remove:
                if ident == chat["owner"]:
                    raise ControlError("the owner cannot leave; transfer or dismiss the group", "owner")
                if ident in present:
                    chat["member_list"] = [m for m in chat["member_list"] if m["userid"] != ident]
                    present.discard(ident)
                    removed.append(ident)
            if removed:
                event_id = self._emit_member_change(chat, "del_member", removed, QuitScene=int(quit_scene))
        self.changed()
        return {"chat_id": chat_id, "added": changed_ids, "removed": removed, "member_version": chat["member_version"],
                "event_id": event_id}

    def _emit_member_change(self, chat: dict, detail: str, ids: list[str], **scene: int) -> int | None:
        last = chat["member_version"]
        chat["version_n"] += 1
        chat["member_version"] = self._member_version(chat["chat_id"], chat["version_n"])
        fields: list[tuple[str, Any]] = [("Event", "change_external_chat"), ("ChatId", chat["chat_id"]),
                                         ("ChangeType", "update"), ("UpdateDetail", detail)]
        fields += list(scene.items())
        fields += [("MemChangeCnt", len(ids)), ("MemChangeList", ids), ("LastMemVer", last),
                   ("CurMemVer", chat["member_version"])]
        record = self.emit(fields, key=chat["chat_id"])
        return record["id"] if record else None

    def chat_update(self, chat_id: str, name: str | None = None, owner: str | None = None,
                    notice: str | None = None) -> dict:
        chat = self.groupchats.get(chat_id)
        if chat is None or chat.get("dismissed"):
            raise ControlError(f"no (live) group chat {chat_id}", "not_found", 404)
        events = []
        if name is not None and name != chat["name"]:
            chat["name"] = name
            events.append("change_name")
        if notice is not None and notice != chat["notice"]:
            chat["notice"] = notice
            events.append("change_notice")
        if owner is not None and owner != chat["owner"]:
            if owner not in self.members or self.members[owner]["status"] == "resigned":
                raise ControlError(f"new owner {owner} is not an active member", "invalid_owner")
            chat["owner"] = owner
            chat["status"] = 0
            if owner not in {m["userid"] for m in chat["member_list"]}:
                chat["member_list"].append(self._chat_member(owner, 1, self.inow(), 1, None, ""))
            events.append("change_owner")
        ids = []
        for detail in events:
            record = self.emit([("Event", "change_external_chat"), ("ChatId", chat_id), ("ChangeType", "update"),
                                ("UpdateDetail", detail)], key=chat_id)
            ids.append(record["id"])
        self.changed()
        return {"chat_id": chat_id, "events": events, "event_ids": ids}

    def chat_dismiss(self, chat_id: str) -> dict:
        chat = self.groupchats.get(chat_id)
        if chat is None or chat.get("dismissed"):
            raise ControlError(f"no (live) group chat {chat_id}", "not_found", 404)
        chat["dismissed"] = True
        self.changed()
        record = self.emit([("Event", "change_external_chat"), ("ChatId", chat_id), ("ChangeType", "dismiss")],
                           key=chat_id)
        return {"chat_id": chat_id, "event_id": record["id"]}

    def join_via_way(self, euid: str, config_id: str) -> dict:
        way = self.join_ways.get(config_id)
        if way is None:
            raise ControlError(f"no join way {config_id}", "not_found", 404)
        if euid not in self.customers and euid not in self.members:
            raise ControlError(f"no customer {euid}", "not_found", 404)
        target = None
        for chat_id in way["chat_id_list"]:
            chat = self.groupchats.get(chat_id)
            if chat and not chat.get("dismissed") and len(chat["member_list"]) < 500:
                target = chat
                break
        if target is None:
            if not way.get("auto_create_room", 1) or not way["chat_id_list"]:
                raise ControlError("all groups of this join way are full", "full", 409)
            first = self.groupchats[way["chat_id_list"][0]]
            base_id = int(way.get("room_base_id") or 1)
            target = self.create_chat(first["owner"], f"{way.get('room_base_name') or first['name']}{base_id}")
            way["room_base_id"] = base_id + 1
            way["chat_id_list"].append(target["chat_id"])
        scene = 3 if way["scene"] == 2 else 1
        return self.chat_members_change(target["chat_id"], add=[euid], join_scene=scene, state=way.get("state") or "")

    # ------------------------------------------------------------------------------ transfers
    def unassigned(self) -> list[dict]:
        """Customers of resigned members that are not (being) handed over, in a stable order."""
        pending = {(t["handover_userid"], t["external_userid"]) for t in self.transfers
                   if t["kind"] == "resigned" and t["status"] == 2}
        resigned = sorted((m for m in self.members.values() if m["status"] == "resigned"),
                          key=lambda m: (m["resigned_at"] or 0, m["seq"]))
        out = []
        for member in resigned:
            for follow in self.by_user.get(member["userid"], ()):
                if follow["status"] == "half" or (member["userid"], follow["external_userid"]) in pending:
                    continue
                out.append({"handover_userid": member["userid"], "external_userid": follow["external_userid"],
                            "dimission_time": member["resigned_at"], "_key": [member["seq"], follow["seq"]]})
        return out

    def start_transfer(self, kind: str, handover: str, takeover: str, euid: str, msg: str = "") -> dict:
        now = self.now()
        transfer = {"id": len(self.transfers) + 1, "kind": kind, "handover_userid": handover,
                    "takeover_userid": takeover, "external_userid": euid, "started_at": now,
                    "takeover_time": now + float(self.config.takeover_delay_seconds), "status": 2,
                    "finished_at": None, "transfer_success_msg": msg, "outcome": None}
        self.transfers.append(transfer)
        self.transfers_by_customer.setdefault(euid, []).append(transfer)
        heapq.heappush(self._pending, (transfer["takeover_time"], transfer["id"]))
        self.changed()
        return transfer

    def pending_incoming(self, takeover: str) -> int:
        return sum(1 for t in self.transfers if t["status"] == 2 and t["takeover_userid"] == takeover)

    def _cancel_transfers_of(self, follow: dict) -> None:
        """The relationship behind a waiting transfer vanished -> on-job status 5, resigned status 3."""
        for transfer in self.transfers_by_customer.get(follow["external_userid"], ()):
            if transfer["status"] == 2 and transfer["handover_userid"] == follow["userid"]:
                transfer["status"] = 5 if transfer["kind"] == "onjob" else 3
                transfer["finished_at"] = self.now()
                transfer["outcome"] = "cancelled"

    def tick(self) -> int:
        """Finish every transfer whose takeover time has come. Returns how many finished."""
        now = self.now()
        done = 0
        while self._pending and self._pending[0][0] <= now:
            _, transfer_id = heapq.heappop(self._pending)
            transfer = self.transfers[transfer_id - 1]
            if transfer["status"] != 2:
                continue
            self._finish_transfer(transfer)
            done += 1
        return done

    def _finish_transfer(self, transfer: dict) -> None:
        handover, takeover, euid = transfer["handover_userid"], transfer["takeover_userid"], transfer["external_userid"]
        old = self.follows.get((handover, euid))
        transfer["finished_at"] = transfer["takeover_time"]
        self.changed()
        if old is None or old["status"] not in ("active",):
            transfer["status"] = 5 if transfer["kind"] == "onjob" else 3
            transfer["outcome"] = "cancelled"
            return
        outcome = self.config.transfer_outcomes.get(euid) or self.config.default_transfer_outcome
        if outcome not in OUTCOMES:
            outcome = "accept"
        member = self.members.get(takeover)
        existing = self.follows.get((takeover, euid))
        if outcome == "accept" and member is not None and existing is None:
            if self.customer_count(takeover) >= member["customer_limit"]:
                outcome = "limit"
        transfer["outcome"] = outcome
        if outcome == "refuse":
            transfer["status"] = 3
            if transfer["kind"] == "resigned":
                self.remove_follow(old)  # the customer is lost
            self.emit_contact_event("transfer_fail", takeover, euid, FailReason="customer_refused")
            return
        if outcome == "limit":
            transfer["status"] = 4
            self.emit_contact_event("transfer_fail", takeover, euid, FailReason="customer_limit_exceed")
            return
        transfer["status"] = 1
        if existing is None or existing["status"] == "half":
            if existing is not None:
                self.remove_follow(existing)
            self.new_follow(takeover, euid, state=old["state"], add_way=202, oper_userid=takeover,
                            remark=old["remark"], description=old["description"], tags=old["tags"],
                            remark_corp_name=old["remark_corp_name"], remark_mobiles=old["remark_mobiles"])
            self.emit_contact_event("add_external_contact", takeover, euid)
        self.remove_follow(old)
        self.emit_contact_event("del_external_contact", handover, euid, Source="DELETE_BY_TRANSFER")
        if transfer["kind"] == "onjob" and transfer.get("transfer_success_msg"):
            self.welcome_messages.append({
                "id": len(self.welcome_messages) + 1, "kind": "transfer_success_msg", "userid": handover,
                "external_userid": euid, "text": {"content": transfer["transfer_success_msg"]}, "attachments": [],
                "sent_at": self.inow(), "welcome_code": None})

    def onjob_transfers_in_window(self, euid: str) -> int:
        cutoff = self.now() - NINETY_DAYS
        return sum(1 for t in self.transfers_by_customer.get(euid, ()) if t["kind"] == "onjob"
                   and t["status"] in (1, 2) and t["started_at"] >= cutoff)

    def transfer_json(self, transfer: dict) -> dict:
        if transfer["status"] == 2:
            takeover_time = int(transfer["takeover_time"])
        elif transfer["status"] == 1:
            takeover_time = int(transfer["finished_at"] or transfer["takeover_time"])
        else:
            takeover_time = 0
        return {"external_userid": transfer["external_userid"], "status": transfer["status"],
                "takeover_time": takeover_time}

    def shanghai_day(self, ts: float | None = None) -> int:
        return int(((self.now() if ts is None else ts) + SHANGHAI) // 86400)

    # ------------------------------------------------------------------------------ moments
    def post_moment(self, userid: str, data: dict) -> dict:
        member = self.members.get(userid)
        if member is None or member["status"] == "resigned":
            raise ControlError(f"no active member {userid}", "not_found", 404)
        moment = {"moment_id": "mom" + rand(30), "creator": userid,
                  "create_time": int(data.get("create_time") or self.inow()),
                  "create_type": int(data.get("create_type", 1)), "visible_type": int(data.get("visible_type", 1)),
                  "seq": self.next_seq()}
        text = data.get("text")
        if isinstance(text, str):
            text = {"content": text}
        if text:
            moment["text"] = text
        for key in ("image", "video", "link", "location"):
            if data.get(key):
                moment[key] = copy.deepcopy(data[key])
        if "image" in moment and isinstance(moment["image"], dict):
            moment["image"] = [moment["image"]]
        self.moments[moment["moment_id"]] = moment
        self.changed()
        return moment

    # ------------------------------------------------------------------------------ oauth
    def issue_oauth_code(self, *, userid: str | None = None, external_userid: str | None = None,
                         openid: str | None = None, scope: str = "snsapi_base", agentid: str | None = None) -> str:
        code = rand(43, ALNUM + "-_")
        self.oauth_codes[code] = {"userid": userid, "external_userid": external_userid, "openid": openid,
                                  "scope": scope, "agentid": agentid, "issued_at": self.now(), "used": False}
        if len(self.oauth_codes) > 5000:
            cutoff = self.now() - 3600
            for old in [c for c, i in self.oauth_codes.items() if i["issued_at"] < cutoff]:
                del self.oauth_codes[old]
        return code

    def consume_oauth_code(self, code: str | None) -> dict:
        if not code:
            raise ApiError(41008)
        info = self.oauth_codes.get(code)
        if info is None or info["used"] or self.now() - info["issued_at"] > float(self.config.oauth_code_ttl):
            raise ApiError(40029)
        info["used"] = True
        return info

    # ------------------------------------------------------------------------------ API calls
    def rate_check(self, endpoint: str) -> None:
        limit = int(self.config.rate_limits.get(endpoint, self.config.rate_limit_per_minute) or 0)
        if limit <= 0:
            return
        now = self.now()
        window = self._rate.setdefault(endpoint, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= limit:
            raise ApiError(45009, f"{endpoint} limit {limit}/min")
        window.append(now)

    def take_forced_error(self, endpoint: str) -> dict | None:
        for rule in self.forced_errors:
            if rule["endpoint"] in (endpoint, "*"):
                if rule.get("count") is not None:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.forced_errors.remove(rule)
                return rule
        return None

    def add_forced_error(self, endpoint: str, errcode: int, count: int | None = 1, errmsg: str | None = None,
                         http_status: int | None = None, delay: float | None = None) -> dict:
        rule = {"endpoint": endpoint, "errcode": int(errcode), "count": None if count is None else int(count),
                "errmsg": errmsg, "http_status": http_status, "delay": delay}
        self.forced_errors.append(rule)
        return rule

    def enter(self, endpoint: str) -> bool:
        """Concurrency gate; False when the endpoint's concurrency cap is exceeded (-> 45033)."""
        cap = int(self.config.concurrency_limits.get(endpoint, 0) or 0)
        with self._inflight_lock:
            current = self._inflight.get(endpoint, 0)
            if cap and current >= cap:
                return False
            self._inflight[endpoint] = current + 1
            return True

    def leave(self, endpoint: str) -> None:
        with self._inflight_lock:
            self._inflight[endpoint] = max(0, self._inflight.get(endpoint, 1) - 1)

    def record_call(self, entry: dict) -> None:
        entry["seq"] = next(self._call_seq)
        self.calls.append(entry)
        counts = self.call_counts.setdefault(entry["endpoint"], {})
        key = str(entry["errcode"])
        counts[key] = counts.get(key, 0) + 1
