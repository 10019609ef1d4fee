"""HTTP front of the simulator: a ThreadingHTTPServer serving

- /cgi-bin/...                 the WeCom server API (api.py)
- /connect/oauth2/authorize    the OAuth2 page (real one: open.weixin.qq.com)
- /sim/...                     the control API (control.py)

`start_in_thread(config)` runs it on a background thread (tests); `serve(config)` in the foreground.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import control
from .api import HANDLERS, NO_TOKEN, Request, parse_body
from .config import SimConfig
from .core import ApiError, ControlError, Simulator, errmsg

MAX_BODY = 20 * 1024 * 1024


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, sim: Simulator):
        self.sim = sim
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WeComSimulator/1.0"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    sys_version = ""

    # -- plumbing ---------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.sim.config.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def do_OPTIONS(self) -> None:  # noqa: N802
        """CORS preflight, so a demo page on another origin can drive the control API."""
        self._cors = True
        self._send(204, b"", "text/plain", {"Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                                            "Access-Control-Allow-Headers": "Content-Type",
                                            "Access-Control-Max-Age": "600"})

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ControlError("body too large", "too_large", 413)
        if length:
            return self.rfile.read(length)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if getattr(self, "_cors", False):
            self.send_header("Access-Control-Allow-Origin", "*")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
        self._send(status, body, "application/json; charset=UTF-8")

    # -- routing ----------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        split = urllib.parse.urlsplit(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        path = split.path
        self._cors = path.startswith("/sim")
        try:
            raw = self._read_body()
        except (ControlError, ValueError) as exc:
            self._send_json(413, {"ok": False, "error": "bad_body", "message": str(exc)})
            return
        if path.startswith("/cgi-bin/"):
            self._api(method, path[len("/cgi-bin/"):].strip("/"), query, raw)
        elif path.rstrip("/") == "/connect/oauth2/authorize":
            with self.server.sim.lock:
                self._respond(control.oauth_authorize(self.server.sim, query))
        elif path == "/sim" or path.startswith("/sim/"):
            self._control(method, path, query, raw)
        elif path in ("/", "/index.html"):
            self._respond(control.index_page(self.server.sim))
        else:
            self._send_json(404, {"ok": False, "error": "not_found", "message": f"no route {path}"})

    def _respond(self, response: control.Response) -> None:
        self._send(response.status, response.body, response.content_type, response.headers)

    # -- control API ------------------------------------------------------------------------
    def _control(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        sim = self.server.sim
        try:
            body = _control_body(raw, self.headers.get("Content-Type") or "")
            if path.rstrip("/") == "/sim/deliveries/wait":
                # Outside the lock: deliveries need the lock-free dispatcher only.
                timeout = float(body.get("timeout") or query.get("timeout") or 10)
                drained = sim.dispatcher.wait_idle(timeout) if sim.dispatcher else True
                self._send_json(200, {"ok": True, "drained": drained,
                                      "pending": sim.dispatcher.pending if sim.dispatcher else 0})
                return
            if path.rstrip("/") == "/sim/callbacks/verify_url":
                result = control.callbacks_verify_url(sim, query, body)
                self._send_json(200, {"ok": True, **result})
                return
            with sim.lock:
                result = control.dispatch(sim, method, path, query, body)
        except ControlError as exc:
            self._send_json(exc.status, {"ok": False, "error": exc.code, "message": exc.message})
            return
        except ApiError as exc:
            self._send_json(400, {"ok": False, "error": f"errcode_{exc.errcode}", "message": errmsg(exc.errcode, exc.hint)})
            return
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self._send_json(400, {"ok": False, "error": "bad_request", "message": f"{type(exc).__name__}: {exc}"})
            return
        except Exception as exc:  # a simulator bug: say so instead of dropping the connection
            self._send_json(500, {"ok": False, "error": "internal", "message": f"{type(exc).__name__}: {exc}"})
            return
        if isinstance(result, control.Response):
            self._respond(result)
        else:
            self._send_json(200, {"ok": True, **(result or {})})

    # -- WeCom API --------------------------------------------------------------------------
    def _api(self, method: str, endpoint: str, query: dict[str, str], raw: bytes) -> None:
        sim = self.server.sim
        started = time.monotonic()
        ip = self.client_address[0] if self.client_address else "127.0.0.1"
        token_kind = None
        body: dict = {}
        status = 200
        custom_msg = None
        entered = False
        spec = HANDLERS.get(endpoint)
        try:
            if spec is None:
                status = 404
                raise ApiError(48001, f"endpoint {endpoint} is not simulated")
            with sim.lock:
                forced = sim.take_forced_error(endpoint)
            if forced:
                if forced.get("delay"):
                    time.sleep(float(forced["delay"]))
                status = int(forced.get("http_status") or 200)
                custom_msg = forced.get("errmsg")
                raise ApiError(forced["errcode"], "forced by the simulator")
            with sim.lock:
                if endpoint not in NO_TOKEN:
                    token_kind = sim.check_token(query.get("access_token"))
                sim.rate_check(endpoint)
            if method == "POST":
                body = parse_body(raw)
            elif spec[0] == "POST":
                raise ApiError(40058, "this API needs POST with a JSON body")
            if not sim.enter(endpoint):
                raise ApiError(45033, f"{endpoint} concurrency limit")
            entered = True
            latency = float(sim.config.latency_ms.get(endpoint) or 0)
            if latency:
                time.sleep(latency / 1000.0)
            with sim.lock:
                sim.tick()
                result = spec[1](sim, Request(method, endpoint, query, body, token_kind, ip))
            payload = {"errcode": 0, "errmsg": "ok", **result}
        except ApiError as exc:
            payload = {"errcode": exc.errcode, "errmsg": custom_msg or errmsg(exc.errcode, exc.hint, ip), **exc.extra}
        except Exception as exc:  # a simulator bug must still look like WeCom: -1 系统繁忙
            payload = {"errcode": -1, "errmsg": errmsg(-1, f"simulator error {type(exc).__name__}: {exc}", ip)}
        finally:
            if entered:
                sim.leave(endpoint)
        duration = int((time.monotonic() - started) * 1000)
        call = {"at": sim.now(), "method": method, "endpoint": endpoint, "errcode": payload["errcode"],
                "duration_ms": duration, "token_kind": token_kind,
                "query": {k: v for k, v in query.items() if k not in ("access_token", "corpsecret")},
                "body": body}
        with sim.lock:
            sim.record_call(call)
        self._send_json(status, payload)


def _control_body(raw: bytes, content_type: str) -> dict:
    if not raw or not raw.strip():
        return {}
    if "application/x-www-form-urlencoded" in content_type:
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ControlError(f"body is not JSON: {exc}", "bad_json") from exc
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object", "bad_json")
    return data


# ====================================================================================== entry points
def make_server(config: SimConfig) -> tuple[SimHTTPServer, Simulator]:
    sim = Simulator(config)
    httpd = SimHTTPServer((config.host, config.port), sim)
    config.port = httpd.server_address[1]
    sim.server = httpd
    sim.start()
    return httpd, sim


def start_in_thread(config: SimConfig | None = None, **overrides: Any) -> tuple[str, Simulator]:
    """Start a simulator on a background thread (port 0 = a free port). -> (base_url, sim).

    base_url is the root, e.g. "http://127.0.0.1:54321"; the WeCom API base is base_url + "/cgi-bin/"
    (also `sim.api_base_url`). Stop with `sim.stop()`.
    """
    if config is None:
        config = SimConfig(port=0)
    for key, value in overrides.items():
        if not hasattr(config, key):
            raise TypeError(f"unknown simulator setting {key!r}")
        setattr(config, key, value)
    httpd, sim = make_server(config)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"wecom-sim-http-{config.port}", daemon=True)
    thread.start()
    host = "127.0.0.1" if config.host in ("", "0.0.0.0", "::") else config.host
    return f"http://{host}:{config.port}", sim


def serve(config: SimConfig) -> None:
    httpd, sim = make_server(config)
    base = f"http://{config.host}:{config.port}"
    print(f"[wecom-sim] WeCom simulator for corp {config.corp_id} on {base} "
          f"(API base {base}/cgi-bin/, control {base}/sim/)", flush=True)
    if config.callback_url:
        print(f"[wecom-sim] callbacks -> {config.callback_url}", flush=True)
    if config.state_file:
        print(f"[wecom-sim] state file {config.state_file}", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sim.server = None
        httpd.server_close()
        sim.stop()
