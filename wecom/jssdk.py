"""WeCom JS-SDK (企业微信 JS-SDK) signing for the guide sidebar: tickets and signatures.

Two tickets, both valid 7200 s (reference §9):

- the corp ticket (``get_jsapi_ticket``) signs ``wx.config``;
- the app ticket (``ticket/get?type=agent_config``) signs ``wx.agentConfig``, which
  ``getCurExternalContact``, ``getCurExternalChat`` and ``sendChatMessage`` need.

WeCom allows 400 ticket fetches an hour per corp and 100 per app, so every process shares one
cached ticket in Redis and refreshes it shortly before it expires. A Redis lock makes sure only
one request fetches when it is due; the others keep using the still-valid ticket or wait for the
new one instead of fetching too. A failed fetch is remembered for a few seconds so a WeCom
outage does not turn every page view into another fetch.
Docs: https://developer.work.weixin.qq.com/document/path/96909 (signature and tickets).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import string
import time
from dataclasses import dataclass

from django.conf import settings

from .client import WeComError, _redis, mall_client

logger = logging.getLogger(__name__)

# Refresh this long before WeCom's expiry: pages signed just before a refresh must still work.
REFRESH_MARGIN_SECONDS = 300
LOCK_SECONDS = 15  # longer than one WeCom call with its retry (timeout 10 s)
WAIT_SECONDS = 8  # how long a request waits for another one's fetch
FAILURE_BACKOFF_SECONDS = 10
# What the sidebar asks WeCom for (wx.config and wx.agentConfig take the same list).
# getCurExternalChat: the customer group of a group chat's sidebar, where a group task is sent (DOC:98531).
JS_API_LIST = ["getContext", "getCurExternalContact", "getCurExternalChat", "sendChatMessage"]

KINDS = {"jsapi", "agent_config"}


class TicketUnavailable(WeComError):
    """No valid ticket and WeCom could not give one (or another request's fetch did not finish)."""


def _now() -> float:
    return time.time()


def signature(*, ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """sha1 of the four fields in WeCom's fixed order, not URL-encoded; the URL without ``#...``."""
    url = url.split("#", 1)[0]
    plain = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(plain.encode("utf-8")).hexdigest()


def nonce(length: int = 16) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _key(kind: str) -> str:
    # Under the adapter's "scrm:wecom" prefix; the app ticket belongs to one app of one corp.
    if kind == "jsapi":
        return f"scrm:wecom:{settings.WECOM_CORP_ID}:jsapi_ticket"
    return f"scrm:wecom:{settings.WECOM_CORP_ID}:{settings.WECOM_AGENT_ID}:agent_ticket"


def _cached(client, key: str) -> dict | None:
    raw = client.get(key)
    if not raw:
        return None
    try:
        entry = json.loads(raw)
        return entry if entry.get("ticket") and float(entry.get("expires_at", 0)) > _now() else None
    except (ValueError, AttributeError):
        return None


def _fetch(kind: str) -> tuple[str, int]:
    wecom = mall_client(agent=True)
    if kind == "jsapi":
        data = wecom.get("get_jsapi_ticket")
    else:
        data = wecom.get("ticket/get", params={"type": "agent_config"})
    return data["ticket"], int(data.get("expires_in") or 7200)


def ticket_get(kind: str) -> str:
    """The current ticket of ``kind`` ("jsapi" or "agent_config"), fetched at most once per expiry."""
    if kind not in KINDS:
        raise ValueError(f"unknown ticket kind {kind!r}")
    client = _redis(settings.REDIS_URL)
    key = _key(kind)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        entry = _cached(client, key)
        if entry is not None and float(entry["expires_at"]) - _now() > REFRESH_MARGIN_SECONDS:
            return entry["ticket"]
        if client.exists(key + ":failed"):
            if entry is not None:
                return entry["ticket"]
            raise TicketUnavailable(None, "a ticket fetch failed moments ago; try again shortly", kind)
        token = secrets.token_hex(8)
        if client.set(key + ":lock", token, nx=True, ex=LOCK_SECONDS):
            try:
                return _refresh(client, key, kind, entry)
            finally:
                _release(client, key + ":lock", token)
        if entry is not None:
            return entry["ticket"]  # due for refresh and someone else is on it: this one still works
        if time.monotonic() >= deadline:
            raise TicketUnavailable(None, "timed out waiting for another request's ticket fetch", kind)
        time.sleep(0.05)


def _refresh(client, key: str, kind: str, entry: dict | None) -> str:
    latest = _cached(client, key)  # a fetch that finished while we took the lock
    if latest is not None and float(latest["expires_at"]) - _now() > REFRESH_MARGIN_SECONDS:
        return latest["ticket"]
    try:
        ticket, expires_in = _fetch(kind)
    except WeComError as exc:
        client.set(key + ":failed", "1", ex=FAILURE_BACKOFF_SECONDS)
        logger.warning("wecom.ticket_fetch_failed", extra={"kind": kind, "errcode": exc.errcode})
        if entry is not None:
            return entry["ticket"]  # not expired yet: keep serving it
        raise TicketUnavailable(exc.errcode, exc.errmsg, kind) from exc
    client.set(key, json.dumps({"ticket": ticket, "expires_at": _now() + expires_in}), ex=expires_in)
    client.delete(key + ":failed")
    logger.info("wecom.ticket_fetched", extra={"kind": kind, "expires_in": expires_in})
    return ticket


_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def _release(client, lock_key: str, token: str) -> None:
    # only our own lock: one that expired and was taken by another request stays theirs
    client.eval(_RELEASE, 1, lock_key, token)


@dataclass(frozen=True)
class Signed:
    timestamp: int
    nonce_str: str
    signature: str


def _sign(kind: str, url: str) -> Signed:
    timestamp, nonce_str = int(_now()), nonce()
    return Signed(timestamp, nonce_str, signature(ticket=ticket_get(kind), noncestr=nonce_str,
                                                  timestamp=timestamp, url=url))


def page_config(*, url: str) -> dict:
    """Everything the page needs for ``wx.config`` and ``wx.agentConfig`` (or ``ww.register``)."""
    config, agent = _sign("jsapi", url), _sign("agent_config", url)
    return {
        "corpid": settings.WECOM_CORP_ID,
        "agentid": settings.WECOM_AGENT_ID,
        "url": url.split("#", 1)[0],
        "jsApiList": JS_API_LIST,
        "config": {"appId": settings.WECOM_CORP_ID, "timestamp": config.timestamp, "nonceStr": config.nonce_str,
                   "signature": config.signature},
        "agentConfig": {"corpid": settings.WECOM_CORP_ID, "agentid": settings.WECOM_AGENT_ID,
                        "timestamp": agent.timestamp, "nonceStr": agent.nonce_str, "signature": agent.signature},
    }
