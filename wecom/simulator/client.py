"""A thin client of the /sim/ control API, for the platform's tests, the demo seeder and scripts.

    from wecom.simulator.client import SimulatorControl
    sim = SimulatorControl("http://127.0.0.1:8090")
    sim.member("g-lancome-1", name="王导购")
    euid = sim.customer("李女士")
    sim.scan(euid, config_id=config_id)          # -> add_external_contact with State + WelcomeCode
    sim.wait_deliveries()
    sim.welcome_messages(external_userid=euid)

Standard library only (urllib), so it can be used anywhere.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class SimulatorError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class SimulatorControl:
    def __init__(self, base_url: str, timeout: float = 30.0):
        base_url = base_url.rstrip("/")
        if base_url.endswith("/cgi-bin"):
            base_url = base_url[: -len("/cgi-bin")]
        self.base_url = base_url
        self.timeout = timeout

    # -- transport ----------------------------------------------------------------------------
    def request(self, method: str, path: str, body: dict | None = None, **params: Any) -> dict:
        url = f"{self.base_url}/sim/{path.lstrip('/')}"
        params = {k: v for k, v in params.items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = json.dumps(body or {}, ensure_ascii=False).encode("utf-8") if method == "POST" else None
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read().decode("utf-8"))
            except ValueError:
                payload = {"error": "http_error", "message": str(exc)}
            raise SimulatorError(exc.code, payload.get("error", ""), payload.get("message", "")) from None

    def post(self, path: str, **body: Any) -> dict:
        return self.request("POST", path, body)

    def get(self, path: str, **params: Any) -> dict:
        return self.request("GET", path, None, **params)

    # -- people -------------------------------------------------------------------------------
    def member(self, userid: str, **fields: Any) -> dict:
        """Create/update a member. fields: name, department, status (active|inactive|unverified|resigned),
        customer_limit, customer_contact, mobile, position, silent."""
        return self.post("members", userid=userid, **fields)["member"]

    def members(self, members: list[dict], silent: bool = False) -> list[dict]:
        return self.post("members", members=members, silent=silent)["members"]

    def resign(self, userid: str) -> dict:
        return self.post(f"members/{userid}/resign")["member"]

    def customer(self, name: str = "", **fields: Any) -> str:
        """Create a WeChat customer identity; returns its external_userid."""
        return self.post("customers", name=name, **fields)["customer"]["external_userid"]

    def customers(self, count: int, name_prefix: str = "客户") -> list[str]:
        return [c["external_userid"] for c in self.post("customers", count=count, name_prefix=name_prefix)["customers"]]

    # -- what customers and members do --------------------------------------------------------
    def scan(self, external_userid: str, config_id: str | None = None, userid: str | None = None,
             **options: Any) -> dict:
        """The customer scans a contact way (or adds `userid`). options: state, half, add_way, welcome_code."""
        return self.post(f"customers/{external_userid}/scan", config_id=config_id, userid=userid, **options)

    def chat(self, external_userid: str, userid: str) -> dict:
        return self.post(f"customers/{external_userid}/chat", userid=userid)

    def customer_deletes_member(self, external_userid: str, userid: str) -> dict:
        return self.post(f"customers/{external_userid}/delete_member", userid=userid)

    def member_deletes_customer(self, userid: str, external_userid: str) -> dict:
        return self.post(f"members/{userid}/delete_customer", external_userid=external_userid)

    def seed_follows(self, follows: list[dict], silent: bool = True) -> int:
        return self.post("follows", follows=follows, silent=silent)["created"]

    def groupchat(self, owner: str, name: str = "", members: list[str] | None = None) -> str:
        return self.post("groupchats", owner=owner, name=name, members=members or [])["groupchat"]["chat_id"]

    def join_group(self, external_userid: str, config_id: str | None = None, chat_id: str | None = None) -> dict:
        return self.post(f"customers/{external_userid}/join_group", config_id=config_id, chat_id=chat_id)

    def moment(self, userid: str, text: str, **fields: Any) -> dict:
        return self.post(f"members/{userid}/moments", text=text, **fields)["moment"]

    def transfer_outcome(self, external_userids: list[str], outcome: str) -> dict:
        return self.post("transfers/outcome", external_userids=external_userids, outcome=outcome)

    # -- time, config, faults -----------------------------------------------------------------
    def advance(self, seconds: float) -> float:
        return self.post("clock/advance", seconds=seconds)["now"]

    def now(self) -> float:
        return self.get("clock")["now"]

    def configure(self, **values: Any) -> dict:
        return self.post("config", **values)["config"]

    def fail(self, endpoint: str, errcode: int, count: int = 1, **extra: Any) -> dict:
        return self.post("fail", endpoint=endpoint, errcode=errcode, count=count, **extra)

    def invalidate_tokens(self, kind: str = "all") -> int:
        return self.post("tokens/invalidate", kind=kind)["invalidated"]

    def reset(self) -> None:
        self.post("reset")

    # -- inspection ---------------------------------------------------------------------------
    def wait_deliveries(self, timeout: float = 10.0) -> bool:
        return self.post("deliveries/wait", timeout=timeout)["drained"]

    def deliveries(self, **filters: Any) -> list[dict]:
        return self.get("deliveries", **filters)["deliveries"]

    def welcome_messages(self, **filters: Any) -> list[dict]:
        return self.get("welcome_messages", **filters)["welcome_messages"]

    def calls(self, **filters: Any) -> list[dict]:
        return self.get("calls", **filters)["calls"]

    def verify_url(self, url: str | None = None) -> dict:
        return self.post("callbacks/verify_url", url=url)
