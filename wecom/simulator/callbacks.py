"""Callback events: XML builders and a background delivery queue that behaves like WeCom's pusher.

Delivery (reference §4.1): POST encrypted XML to `callback_url?msg_signature=&timestamp=&nonce=`; a
non-200 answer or no answer within `timeout` seconds (5 s at WeCom) is a failure; WeCom retries up to
three times with the same payload (same CreateTime, same signature, same nonce). Every attempt is
recorded (HTTP status, duration, error).
"""

from __future__ import annotations

import collections
import itertools
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from typing import Any

from .crypto import WeComCrypto, random_nonce


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA: split it like other XML writers do.
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def event_xml(fields: list[tuple[str, Any]]) -> str:
    """Build `<xml>...</xml>` from ordered (name, value) pairs.

    int values are written bare (like CreateTime), strings as CDATA, lists of strings as <Item>s,
    None values are omitted.
    """
    out = ["<xml>"]
    for name, value in fields:
        if value is None:
            continue
        if isinstance(value, bool):
            out.append(f"<{name}>{int(value)}</{name}>")
        elif isinstance(value, int):
            out.append(f"<{name}>{value}</{name}>")
        elif isinstance(value, list | tuple):
            items = "".join(f"<Item>{_cdata(item)}</Item>" for item in value)
            out.append(f"<{name}>{items}</{name}>")
        else:
            out.append(f"<{name}>{_cdata(value)}</{name}>")
    out.append("</xml>")
    return "".join(out)


class Dispatcher:
    """Delivers events on background threads; per-key ordering is preserved.

    Events are sharded over `workers` queues by a key (external_userid / chat id / user id), so the
    events of one customer arrive in order while unrelated ones do not wait for a slow delivery.
    """

    def __init__(self, sim, workers: int = 1, keep: int = 5000):
        self.sim = sim
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self.records: collections.deque[dict] = collections.deque(maxlen=keep)
        self._by_id: dict[int, dict] = {}
        self._queues = [queue.Queue() for _ in range(max(1, workers))]
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        for n, q in enumerate(self._queues):
            thread = threading.Thread(target=self._run, args=(q,), name=f"wecom-sim-callback-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    # -- producer side -------------------------------------------------------------------
    def enqueue(self, xml: str, summary: dict, key: str = "") -> dict:
        record = {
            "id": next(self._ids),
            "summary": summary,
            "xml": xml,
            "status": "queued",
            "url": None,
            "query": None,
            "body": None,
            "attempts": [],
            "queued_at": time.time(),
        }
        with self._lock:
            if len(self.records) == self.records.maxlen:
                self._by_id.pop(self.records[0]["id"], None)
            self.records.append(record)
            self._by_id[record["id"]] = record
            self._pending += 1
        shard = zlib.crc32(key.encode("utf-8")) % len(self._queues) if key else 0
        self._queues[shard].put(record)
        return record

    # -- inspection ----------------------------------------------------------------------
    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def list(self, limit: int | None = None, status: str | None = None, since_id: int = 0) -> list[dict]:
        with self._lock:
            records = [r for r in self.records if r["id"] > since_id and (status is None or r["status"] == status)]
            if limit:
                records = records[-limit:]
            return [self._public(r) for r in records]

    def get(self, record_id: int) -> dict | None:
        with self._lock:
            record = self._by_id.get(record_id)
            return self._public(record) if record else None

    def clear(self) -> None:
        with self._lock:
            self.records.clear()
            self._by_id.clear()

    @staticmethod
    def _public(record: dict) -> dict:
        out = dict(record)
        out["attempts"] = [dict(a) for a in record["attempts"]]
        return out

    def stop(self) -> None:
        self._stopped.set()
        for q in self._queues:
            q.put(None)

    # -- consumer side -------------------------------------------------------------------
    def _run(self, q: queue.Queue) -> None:
        while True:
            record = q.get()
            if record is None or self._stopped.is_set():
                return
            try:
                self._deliver(record)
            except Exception as exc:  # never let a worker die
                record["status"] = "failed"
                record["attempts"].append({"attempt": len(record["attempts"]) + 1, "status": None,
                                           "duration_ms": 0, "error": f"internal: {exc!r}", "at": time.time()})
            finally:
                with self._idle:
                    self._pending -= 1
                    if not self._pending:
                        self._idle.notify_all()

    def _deliver(self, record: dict) -> None:
        cfg = self.sim.config
        url = cfg.callback_url
        if not url:
            record["status"] = "skipped"
            record["error"] = "no callback_url configured"
            return
        crypto = WeComCrypto(cfg.token, cfg.aes_key, cfg.corp_id)
        timestamp = str(record["summary"].get("CreateTime") or int(self.sim.now()))
        nonce = random_nonce()
        body, msg_signature = crypto.encrypt_message(record["xml"], timestamp, nonce, agent_id=cfg.agent_id)
        query = {"msg_signature": msg_signature, "timestamp": timestamp, "nonce": nonce}
        full_url = url + ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        record.update(url=full_url, query=query, body=body)
        attempts = 1 + max(0, int(cfg.callback_retries))
        for attempt in range(1, attempts + 1):
            if self._stopped.is_set():
                record["status"] = "failed"
                return
            status, (error, duration_ms), reply = self._post(full_url, body, float(cfg.callback_timeout))
            ok = status == 200
            entry = {"attempt": attempt, "status": status, "duration_ms": duration_ms, "error": error,
                     "at": time.time(), "ok": ok}
            if reply is not None:
                entry["reply"] = reply[:500]
            with self._lock:
                record["attempts"].append(entry)
                if ok:
                    record["status"] = "delivered"
            if ok:
                return
            if attempt < attempts:
                time.sleep(float(cfg.callback_retry_interval))
        record["status"] = "failed"

    @staticmethod
    def _post(url: str, body: str, timeout: float) -> tuple[int | None, tuple[str | None, int], str | None]:
        started = time.monotonic()
        request = urllib.request.Request(url, data=body.encode("utf-8"), method="POST",
                                         headers={"Content-Type": "text/xml; charset=utf-8",
                                                  "User-Agent": "wecom-simulator"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                reply = response.read(4096).decode("utf-8", "replace")
                return response.status, (None, _ms(started)), reply
        except urllib.error.HTTPError as exc:
            try:
                reply = exc.read(4096).decode("utf-8", "replace")
            except Exception:
                reply = None
            return exc.code, (f"HTTP {exc.code}", _ms(started)), reply
        except TimeoutError:
            return None, (f"timeout after {timeout}s", _ms(started)), None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                return None, (f"timeout after {timeout}s", _ms(started)), None
            return None, (f"connection error: {reason}", _ms(started)), None
        except OSError as exc:
            return None, (f"connection error: {exc}", _ms(started)), None


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
