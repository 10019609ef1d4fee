"""The WeCom adapter: wechatpy's enterprise client, extended and made safe.

- The API base, gettoken included (wechatpy hard-codes it), comes from ``WECOM_API_BASE``.
- The access token lives in Redis and is shared by every process.
- On 40001/40014/42001 the token is refreshed and the call retried ONCE (wechatpy alone recurses
  without limit); 45009/45033 raise :class:`RateLimited` so a Celery task can back off and retry
  later without blocking other work.
- Every call is recorded in :class:`wecom.models.ApiCall` (no token, no secret).
Facts: ../shared/reference/wecom-api.md §1, §10, §11.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from functools import lru_cache

import redis
import requests
from django.conf import settings
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

logger = logging.getLogger(__name__)

TOKEN_ERRCODES = {40001, 40014, 42001}
RATE_ERRCODES = {45009, 45033}
# Endpoints whose repetition would duplicate a side effect on the customer's phone or in WeCom.
NOT_REDRIVABLE = {"externalcontact/send_welcome_msg", "externalcontact/add_msg_template",
                  "externalcontact/transfer_customer", "externalcontact/resigned/transfer_customer"}
SECRET_FIELDS = {"access_token", "corpsecret", "secret"}
# How long a process trusts the token it read from Redis before reading it again (well inside its 2 hours).
TOKEN_MEMORY_SECONDS = 30


class WeComError(Exception):
    """WeCom answered with a non-zero errcode (or could not be reached: errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str, endpoint: str):
        super().__init__(f"{endpoint}: {errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.endpoint = endpoint


class RateLimited(WeComError):
    """45009 / 45033: try again later (the caller decides when; nothing is blocked meanwhile)."""


def _clean(data):
    if isinstance(data, dict):
        return {k: ("***" if k in SECRET_FIELDS else _clean(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_clean(v) for v in data[:200]]
    return data


class WeComClient(WeChatClient):
    """One corp's client. Use :func:`mall_client` for the mall's corp."""

    def __init__(self, *, corp_id: str, secret: str, api_base: str, redis_client, record: bool = True):
        storage = RedisStorage(redis_client, prefix="scrm:wecom")
        super().__init__(corp_id, secret, session=storage, timeout=10, auto_retry=False)
        self.API_BASE_URL = api_base if api_base.endswith("/") else api_base + "/"
        self.record = record
        # requests re-reads the proxy and CA-bundle variables from the environment on every request (four
        # scans of os.environ per customer add); a client reads them once, for its API base
        self._http.trust_env = False
        self._http.proxies = requests.utils.get_environ_proxies(self.API_BASE_URL)
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            self._http.verify = ca_bundle
        self._held_records: list[dict] | None = None
        self._token, self._token_until = None, 0.0

    @contextmanager
    def records_held(self):
        """Record the calls made inside this block when it exits, not as they happen.

        For a call made inside a savepoint its caller may roll back (a welcome message WeCom refused takes
        its coupon back with it): written at once, the call's own record would be rolled back too.
        """
        self._held_records = []
        try:
            yield
        finally:
            held, self._held_records = self._held_records, None
            _record_calls(held)

    @property
    def access_token(self):
        """The shared token from Redis, remembered in this process for a little while: a burst of adds makes two
        calls per customer, and a Redis round trip before each cost as much as the call's own bookkeeping. A
        token WeCom stops accepting sooner is dropped at its first refusal (the one retry in ``_request``)."""
        now = time.monotonic()
        if self._token is not None and now < self._token_until:
            return self._token
        token = super().access_token
        self._token, self._token_until = token, now + TOKEN_MEMORY_SECONDS
        return token

    def _forget_token(self) -> None:
        self.session.delete(self.access_token_key)
        self.expires_at = None
        self._token = None

    @property
    def access_token_key(self) -> str:
        # wechatpy puts the first 10 characters of the secret in the key; we use a hash instead
        digest = hashlib.sha256(self.secret.encode()).hexdigest()[:12]
        return f"{self.corp_id}:{digest}:access_token"

    def fetch_access_token(self):
        return self._fetch_access_token(url=self.API_BASE_URL + "gettoken",
                                        params={"corpid": self.corp_id, "corpsecret": self.secret})

    def _request(self, method, url_or_endpoint, **kwargs):
        endpoint = url_or_endpoint.replace(self.API_BASE_URL, "") if url_or_endpoint.startswith("http") \
            else url_or_endpoint
        body = kwargs.get("data")
        if isinstance(body, bytes | str):
            try:
                body = json.loads(body)
            except ValueError:
                body = None
        started = time.monotonic()
        attempts, errcode, errmsg, status = 0, None, "", "ok"
        try:
            while True:
                attempts += 1
                call_kwargs = copy.deepcopy(kwargs)
                try:
                    result = super()._request(method, url_or_endpoint, **call_kwargs)
                    errcode, errmsg = 0, "ok"
                    return result
                except WeChatClientException as exc:
                    errcode, errmsg = exc.errcode, str(exc.errmsg or "")
                    if errcode in TOKEN_ERRCODES and attempts == 1:
                        # a token WeCom no longer accepts: drop it, fetch a new one, retry once
                        self._forget_token()
                        continue
                    if errcode in RATE_ERRCODES:
                        status = "rate_limited"
                        raise RateLimited(errcode, errmsg, endpoint) from exc
                    status = "error" if errcode is not None else "network"
                    raise WeComError(errcode, errmsg, endpoint) from exc
                except OSError as exc:  # requests' ConnectionError/Timeout are OSErrors
                    status, errmsg = "network", exc.__class__.__name__
                    raise WeComError(None, errmsg, endpoint) from exc
        finally:
            duration_ms = int((time.monotonic() - started) * 1000)
            logger.info("wecom.call", extra={"endpoint": endpoint, "errcode": errcode, "attempts": attempts,
                                             "duration_ms": duration_ms})
            if self.record:
                fields = {"corp_id": self.corp_id, "method": method.upper(), "endpoint": endpoint,
                          "params": _clean(dict(kwargs.get("params") or {})), "body": _clean(body),
                          "errcode": errcode, "errmsg": errmsg, "status": status, "attempts": attempts,
                          "duration_ms": duration_ms}
                if self._held_records is not None:
                    self._held_records.append(fields)
                else:
                    _record_call(**fields)

    # ---- endpoints wechatpy 1.8.18 lacks (reference §11) -------------------------------------

    def get_contact(self, external_userid: str, cursor: str = "") -> dict:
        params = {"external_userid": external_userid}
        if cursor:
            params["cursor"] = cursor
        return self.get("externalcontact/get", params=params)

    def batch_get_by_user(self, userids: list[str], cursor: str = "", limit: int = 100) -> dict:
        return self.post("externalcontact/batch/get_by_user",
                         data={"userid_list": userids[:100], "cursor": cursor, "limit": min(limit, 100)})

    def remark(self, **body) -> dict:
        return self.post("externalcontact/remark", data=body)

    def send_welcome_msg(self, body: dict) -> dict:
        return self.post("externalcontact/send_welcome_msg", data=body)

    def add_contact_way(self, **body) -> dict:
        return self.post("externalcontact/add_contact_way", data=body)

    def update_contact_way(self, **body) -> dict:
        return self.post("externalcontact/update_contact_way", data=body)

    def del_contact_way(self, config_id: str) -> dict:
        return self.post("externalcontact/del_contact_way", data={"config_id": config_id})

    def list_contact_way(self, cursor: str = "", limit: int = 1000, **window) -> dict:
        return self.post("externalcontact/list_contact_way", data={"cursor": cursor, "limit": limit, **window})

    def get_unassigned_list(self, cursor: str = "", page_size: int = 1000) -> dict:
        return self.post("externalcontact/get_unassigned_list", data={"cursor": cursor, "page_size": page_size})

    def resigned_transfer_customer(self, handover: str, takeover: str, external_userids: list[str]) -> dict:
        assert len(external_userids) <= 100, "WeCom takes at most 100 customers per call"
        return self.post("externalcontact/resigned/transfer_customer",
                         data={"handover_userid": handover, "takeover_userid": takeover,
                               "external_userid": external_userids})

    def resigned_transfer_result(self, handover: str, takeover: str, cursor: str = "") -> dict:
        return self.post("externalcontact/resigned/transfer_result",
                         data={"handover_userid": handover, "takeover_userid": takeover, "cursor": cursor})

    def transfer_customer(self, handover: str, takeover: str, external_userids: list[str], message: str = "") -> dict:
        assert len(external_userids) <= 100, "WeCom takes at most 100 customers per call"
        return self.post("externalcontact/transfer_customer",
                         data={"handover_userid": handover, "takeover_userid": takeover,
                               "external_userid": external_userids, "transfer_success_msg": message})

    def transfer_result(self, handover: str, takeover: str, cursor: str = "") -> dict:
        return self.post("externalcontact/transfer_result",
                         data={"handover_userid": handover, "takeover_userid": takeover, "cursor": cursor})

    def groupchat_list(self, cursor: str = "", limit: int = 1000, status_filter: int = 0,
                       owners: list[str] | None = None) -> dict:
        body = {"status_filter": status_filter, "cursor": cursor, "limit": limit}
        if owners:
            body["owner_filter"] = {"userid_list": owners[:100]}
        return self.post("externalcontact/groupchat/list", data=body)

    def groupchat_get(self, chat_id: str) -> dict:
        return self.post("externalcontact/groupchat/get", data={"chat_id": chat_id, "need_name": 1})

    def groupchat_transfer(self, chat_ids: list[str], new_owner: str) -> dict:
        assert len(chat_ids) <= 100, "WeCom takes at most 100 groups per call"
        return self.post("externalcontact/groupchat/transfer", data={"chat_id_list": chat_ids, "new_owner": new_owner})

    def add_join_way(self, **body) -> dict:
        return self.post("externalcontact/groupchat/add_join_way", data=body)

    def get_join_way(self, config_id: str) -> dict:
        return self.post("externalcontact/groupchat/get_join_way", data={"config_id": config_id})

    def del_join_way(self, config_id: str) -> dict:
        return self.post("externalcontact/groupchat/del_join_way", data={"config_id": config_id})

    def get_moment_list(self, start_time: int, end_time: int, cursor: str = "", limit: int = 20, **filters) -> dict:
        return self.post("externalcontact/get_moment_list",
                         data={"start_time": start_time, "end_time": end_time, "cursor": cursor,
                               "limit": min(limit, 20), **filters})

    def get_corp_tags(self) -> dict:
        return self.post("externalcontact/get_corp_tag_list", data={})

    def auth_getuserinfo(self, code: str) -> dict:
        return self.get("auth/getuserinfo", params={"code": code})


@lru_cache(maxsize=8)
def _redis(url: str):
    return redis.Redis.from_url(url)


_clients = threading.local()


def client_for(*, corp_id: str, secret: str) -> WeComClient:
    """A corp's client, kept per thread so its HTTP keep-alive connection to WeCom is reused (a new client per
    call meant a new TCP connection per call: two per customer add). Keyed by everything it is built from,
    so a changed setting (tests point ``WECOM_API_BASE`` at a fresh simulator) gets a fresh client."""
    key = (corp_id, secret, settings.WECOM_API_BASE, settings.REDIS_URL)
    cache = getattr(_clients, "by_key", None)
    if cache is None:
        cache = _clients.by_key = {}
    client = cache.get(key)
    if client is None:
        if len(cache) >= 16:  # settings churn (tests): drop the old clients and their connections
            for old in cache.values():
                old._http.close()
            cache.clear()
        client = cache[key] = WeComClient(corp_id=corp_id, secret=secret, api_base=settings.WECOM_API_BASE,
                                          redis_client=_redis(settings.REDIS_URL))
    return client


def mall_client(*, agent: bool = False) -> WeComClient:
    """The mall corp's client: the customer-contact secret, or the self-built app's (``agent=True``)."""
    return client_for(corp_id=settings.WECOM_CORP_ID,
                      secret=settings.WECOM_AGENT_SECRET if agent else settings.WECOM_SECRET)


def _record_call(**fields) -> None:
    _record_calls([fields])


def _record_calls(held: list[dict]) -> None:
    """Write call records, several in one INSERT (a batch of customer adds makes dozens of calls)."""
    from .models import ApiCall

    if not held:
        return
    rows = []
    for fields in held:
        fields["redrivable"] = fields["endpoint"] not in NOT_REDRIVABLE
        fields["errmsg"] = (fields.get("errmsg") or "")[:255]
        rows.append(ApiCall(**fields))
    try:
        if len(rows) == 1:
            rows[0].save(force_insert=True)
        else:
            ApiCall.objects.bulk_create(rows)
    except Exception:  # the call log must never break the call itself
        logger.warning("wecom.call_not_recorded", extra={"endpoint": held[0]["endpoint"]}, exc_info=True)


def api_call_redrive(call) -> dict:
    """Repeat a recorded call (from the admin). Refuses calls whose repetition duplicates a side effect."""
    from scrm.errors import AppError

    if not call.redrivable:
        raise AppError("This call cannot be repeated safely. 该调用不可重发。", code="not_redrivable")
    client = mall_client()
    params = {k: v for k, v in (call.params or {}).items() if k != "access_token"}
    before = _latest_call_id()
    try:
        if call.method == "GET":
            return client.get(call.endpoint, params=params)
        return client.post(call.endpoint, params=params, data=call.body or {})
    finally:
        from .models import ApiCall

        ApiCall.objects.filter(pk__gt=before, endpoint=call.endpoint, redriven_from__isnull=True).update(
            redriven_from=call)


def _latest_call_id() -> int:
    from .models import ApiCall

    return ApiCall.objects.order_by("-id").values_list("id", flat=True).first() or 0
