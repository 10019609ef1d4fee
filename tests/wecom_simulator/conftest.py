"""Fixtures for the WeCom simulator tests: a simulator on a free port (real HTTP on loopback), a tiny
callback receiver that decrypts with wechatpy (an independent implementation), and a wechatpy client
pointed at the simulator. No database is touched."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from wechatpy.enterprise import WeChatClient
from wechatpy.enterprise.crypto import WeChatCrypto

from wecom.simulator import SimConfig, start_in_thread

CORP_ID = "wwsimtest0000001"
CONTACT_SECRET = "contact-secret-for-tests"
AGENT_SECRET = "agent-secret-for-tests"
AGENT_ID = "1000002"
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


class Harness:
    """A running simulator plus helpers for its control API and the WeCom API."""

    def __init__(self, base: str, sim):
        self.base = base
        self.sim = sim
        self.api_base = base + "/cgi-bin/"
        self.http = requests.Session()
        self._tokens: dict[str, str] = {}

    # control API
    def ctl(self, path: str, expect_ok: bool = True, **body):
        response = self.http.post(f"{self.base}/sim/{path.lstrip('/')}", json=body, timeout=10)
        data = response.json()
        if expect_ok:
            assert response.status_code == 200 and data["ok"], data
        return data

    def get(self, path: str, **params):
        response = self.http.get(f"{self.base}/sim/{path.lstrip('/')}", params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def advance(self, seconds: float) -> float:
        return self.ctl("clock/advance", seconds=seconds)["now"]

    def wait(self, timeout: float = 10) -> None:
        assert self.ctl("deliveries/wait", timeout=timeout)["drained"]

    # WeCom API
    def token(self, kind: str = "contact") -> str:
        if kind not in self._tokens:
            secret = CONTACT_SECRET if kind == "contact" else AGENT_SECRET
            data = self.http.get(self.api_base + "gettoken", params={"corpid": CORP_ID, "corpsecret": secret}).json()
            assert data["errcode"] == 0, data
            self._tokens[kind] = data["access_token"]
        return self._tokens[kind]

    def api(self, endpoint: str, body: dict | None = None, method: str | None = None, token: str | None = None,
            **params):
        """Call the WeCom API. With the cached token, refetch once on 40014/42001 (like a real client)."""
        data = self._api(endpoint, body, method, token or self.token(), params)
        if token is None and data["errcode"] in (40014, 42001):
            self._tokens.clear()
            data = self._api(endpoint, body, method, self.token(), params)
        return data

    def _api(self, endpoint, body, method, token, params):
        params = {"access_token": token, **params}
        if body is not None or method == "POST":
            # Like wechatpy: JSON bytes WITHOUT a Content-Type header.
            raw = json.dumps(body or {}, ensure_ascii=False).encode("utf-8")
            response = self.http.post(self.api_base + endpoint, params=params, data=raw, timeout=10)
        else:
            response = self.http.get(self.api_base + endpoint, params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    # fixtures of the domain
    def member(self, userid: str, **fields):
        return self.ctl("members", userid=userid, name=fields.pop("name", userid), **fields)["member"]

    def customer(self, name: str = "客户", **fields):
        return self.ctl("customers", name=name, **fields)["customer"]["external_userid"]

    def customers(self, count: int) -> list[str]:
        return [c["external_userid"] for c in self.ctl("customers", count=count)["customers"]]

    def seed(self, userid: str, euids: list[str], **extra):
        return self.ctl("follows", follows=[{"userid": userid, "external_userid": e, **extra} for e in euids])


@pytest.fixture
def sim_config():
    return SimConfig(port=0, corp_id=CORP_ID, corp_secret=CONTACT_SECRET, agent_id=AGENT_ID,
                     agent_secret=AGENT_SECRET, token=TOKEN, aes_key=AES_KEY, callback_retry_interval=0.0,
                     callback_timeout=1.0, frozen=True, start_time=1_750_000_000.0)


@pytest.fixture
def sim(sim_config):
    base, simulator = start_in_thread(sim_config)
    harness = Harness(base, simulator)
    yield harness
    harness.http.close()
    simulator.stop()


class Receiver:
    """The platform's side of callbacks, in miniature: verifies + decrypts with wechatpy."""

    def __init__(self):
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
        self.events: list[dict] = []
        self.requests: list[dict] = []
        self.statuses: list[int] = []      # answers to give, in order (then 200)
        self.delays: list[float] = []      # seconds to sleep before answering, in order (then 0)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).items()}
                echo = receiver.crypto.check_signature(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
                self._reply(200, echo.encode() if isinstance(echo, str) else echo)

            def do_POST(self):  # noqa: N802
                q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).items()}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    delay = receiver.delays.pop(0) if receiver.delays else 0
                    receiver.requests.append({"query": q, "body": body, "status": status, "delay": delay})
                if delay:
                    time.sleep(delay)
                xml = receiver.crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
                if status == 200:
                    root = ET.fromstring(xml)
                    event = {child.tag: (child.text if len(child) == 0 else [i.text for i in child]) for child in root}
                    event["_xml"] = xml
                    with receiver.lock:
                        receiver.events.append(event)
                try:
                    self._reply(status, b"" if status == 200 else b"error")
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wecom/callback/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def of(self, change_type: str) -> list[dict]:
        return [e for e in self.events if e.get("ChangeType") == change_type]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(sim):
    rec = Receiver()
    sim.ctl("config", callback_url=rec.url)
    yield rec
    rec.stop()


class SimWeChatClient(WeChatClient):
    """wechatpy's client pointed at the simulator (its fetch_access_token hard-codes qyapi.weixin.qq.com)."""

    def fetch_access_token(self):
        return self._fetch_access_token(url=self.API_BASE_URL + "gettoken",
                                        params={"corpid": self.corp_id, "corpsecret": self.secret})


@pytest.fixture
def client(sim):
    cls = type("BoundClient", (SimWeChatClient,), {"API_BASE_URL": sim.api_base})
    return cls(CORP_ID, CONTACT_SECRET)
