"""Real-time feedback to the guide (实时反馈). The record is in PostgreSQL (share link counters,
orders); Redis holds only what makes it instant: a per-guide version the sidebar polls cheaply and
the last few happenings as lines ("someone bought ¥300 through 兰蔻小黑瓶"). A Redis outage loses
no data: the feed then reads the database alone."""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)

RECENT = 50


_clients: dict = {}


def redis_client():
    """One client (and connection pool) per process and URL: a new TCP connection per event would cost more
    than the event."""
    import redis

    client = _clients.get(settings.REDIS_URL)
    if client is None:
        client = _clients[settings.REDIS_URL] = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1,
                                                                     socket_connect_timeout=1)
    return client


def _version_key(guide_id: int) -> str:
    return f"scrm:feed:v:{guide_id}"


def _events_key(guide_id: int) -> str:
    return f"scrm:feed:e:{guide_id}"


def publish(*, guide_id: int, line: dict) -> None:
    try:
        pipe = redis_client().pipeline()
        pipe.incr(_version_key(guide_id))
        pipe.lpush(_events_key(guide_id), json.dumps({**line, "at": time.time()}, ensure_ascii=False))
        pipe.ltrim(_events_key(guide_id), 0, RECENT - 1)
        pipe.execute()
    except Exception:  # Redis is a cache here; the feed falls back to the database
        log.warning("incentives.feed_publish_failed", extra={"guide_id": guide_id}, exc_info=True)


# A whole batch in one command: per guide, bump the version, push the line, keep the last RECENT. As three
# pipelined commands per guide, packing them cost the web process as much as storing the batch did.
_PUBLISH_MANY = """
for i = 1, #KEYS, 2 do
  redis.call('INCR', KEYS[i])
  redis.call('LPUSH', KEYS[i + 1], ARGV[1])
  redis.call('LTRIM', KEYS[i + 1], 0, tonumber(ARGV[2]) - 1)
end
return #KEYS / 2
"""
_scripts: dict = {}


def script(client, source: str):
    """A Lua script registered once per client (EVALSHA, loaded again by redis-py if Redis restarted)."""
    key = (id(client), source)
    registered = _scripts.get(key)
    if registered is None:
        registered = _scripts[key] = client.register_script(source)
    return registered


def publish_many(*, guide_ids, line: dict, link_ids=()) -> None:
    """The same line to several guides' feeds in one round trip (a batch of events)."""
    try:
        client = redis_client()
        payload = json.dumps({**line, "at": time.time()}, ensure_ascii=False)
        keys = [key for guide_id in guide_ids for key in (_version_key(guide_id), _events_key(guide_id))]
        if keys:
            script(client, _PUBLISH_MANY)(keys=keys, args=[payload, RECENT])
    except Exception:
        log.warning("incentives.feed_publish_failed", extra={"guides": len(guide_ids)}, exc_info=True)
    _schedule_summaries(link_ids)


def _schedule_summaries(link_ids) -> None:
    from .summary import summaries_schedule

    summaries_schedule(link_ids=link_ids)


def version(guide_id: int) -> int:
    try:
        return int(redis_client().get(_version_key(guide_id)) or 0)
    except Exception:
        return -1  # unknown: the page re-reads the database


def recent(guide_id: int, limit: int = 10) -> list[dict]:
    try:
        return [json.loads(raw) for raw in redis_client().lrange(_events_key(guide_id), 0, limit - 1)]
    except Exception:
        return []


def changed_on_commit(*, link_id: int, guide_id: int, event: str) -> None:
    def run():
        publish(guide_id=guide_id, line={"link": link_id, "event": event})
        _schedule_summaries([link_id])

    transaction.on_commit(run)


_order_listeners: list = []


def on_order(listener) -> None:
    """Register ``listener(**order facts)`` run after commit of each attributed payment or refund."""
    _order_listeners.append(listener)


def order_on_commit(*, brand_id: int, guide_id: int, order_pk: int, paid_at, amount_cents: int) -> None:
    facts = dict(brand_id=brand_id, guide_id=guide_id, order_pk=order_pk, paid_at=paid_at, amount_cents=amount_cents)

    def run():
        publish(guide_id=guide_id, line={"event": "sale" if amount_cents > 0 else "refund",
                                         "amount_cents": amount_cents})
        for listener in _order_listeners:
            try:
                listener(**facts)
            except Exception:
                log.warning("incentives.order_listener_failed", extra={"guide_id": guide_id}, exc_info=True)

    transaction.on_commit(run)
