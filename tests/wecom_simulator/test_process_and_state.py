"""The standalone process (`python -m wecom.simulator`), its independence from Django, the state file,
reset and the clock."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from wecom.simulator import SimConfig, start_in_thread

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_simulator_imports_no_django_and_no_project_module():
    code = ("import sys, wecom.simulator, wecom.simulator.__main__; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('django', 'rest_framework', 'wechatpy', 'scrm', 'tenants', 'members', 'guides', 'tasks') "
            "or (m.startswith('wecom.') and not m.startswith('wecom.simulator'))); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": ""})
    assert out.stdout.strip() == "[]"


def test_cli_process_serves_the_api(tmp_path):
    port = free_port()
    state = tmp_path / "sim-state.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wecom.simulator", "--host", "127.0.0.1", "--port", str(port), "--corp-id", "wwcli",
         "--corp-secret", "cs", "--agent-id", "1000009", "--agent-secret", "as", "--token", "tok",
         "--aes-key", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "--callback-url", "",
         "--rate-limit-per-minute", "100", "--takeover-delay-seconds", "5", "--state-file", str(state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(base + "/sim/health", timeout=0.5)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        token = requests.get(base + "/cgi-bin/gettoken", params={"corpid": "wwcli", "corpsecret": "cs"}).json()
        assert token["errcode"] == 0
        config = requests.get(base + "/sim/config").json()["config"]
        assert config["takeover_delay_seconds"] == 5 and config["rate_limit_per_minute"] == 100
        assert config["corp_secret"] == "cs***"
        requests.post(base + "/sim/members", json={"userid": "g1"}).raise_for_status()
        deadline = time.time() + 5
        while not state.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert "g1" in json.loads(state.read_text())["members"]
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_cli_rejects_a_bad_aes_key():
    out = subprocess.run([sys.executable, "-m", "wecom.simulator", "--port", str(free_port()), "--aes-key", "short"],
                         cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert out.returncode == 2 and "aes-key" in out.stderr


def test_state_file_survives_restart(tmp_path):
    path = str(tmp_path / "state.json")
    base, sim = start_in_thread(SimConfig(port=0, state_file=path))
    http = requests.Session()
    http.post(base + "/sim/members", json={"userid": "g1", "name": "导购"}).raise_for_status()
    euid = http.post(base + "/sim/customers", json={"name": "客"}).json()["customer"]["external_userid"]
    http.post(base + f"/sim/customers/{euid}/scan", json={"userid": "g1", "state": "s"}).raise_for_status()
    token = http.get(base + "/cgi-bin/gettoken", params={"corpid": "ww-demo-mall",
                                                          "corpsecret": "sim-contact-secret"}).json()["access_token"]
    sim.stop()
    base2, sim2 = start_in_thread(SimConfig(port=0, state_file=path))
    try:
        listed = http.get(base2 + "/cgi-bin/externalcontact/list", params={"access_token": token, "userid": "g1"}).json()
        assert listed == {"errcode": 0, "errmsg": "ok", "external_userid": [euid]}  # the token survived too
        detail = http.get(base2 + f"/sim/customers/{euid}").json()
        assert detail["follows"][0]["state"] == "s"
    finally:
        sim2.stop()


def test_reset_and_clock(sim):
    sim.member("g1")
    assert sim.get("clock") == {"ok": True, "now": 1_750_000_000.0, "frozen": True}
    assert sim.advance(30) == 1_750_000_030.0
    assert sim.ctl("clock/advance", expect_ok=False, seconds=-1)["error"] == "invalid_seconds"
    sim.ctl("reset")
    assert sim.get("members")["members"] == []
    bad = sim.http.post(sim.base + "/sim/customers/wmnobody/scan", json={"userid": "g1"})
    assert bad.status_code == 404 and bad.json()["error"] == "not_found"
    assert sim.http.get(sim.base + "/sim/nothing").status_code == 404
    unknown = sim.http.get(sim.api_base + "externalcontact/not_a_thing", params={"access_token": sim.token()})
    assert unknown.status_code == 404 and unknown.json()["errcode"] == 48001


def test_control_client_and_cors(sim, receiver):
    from wecom.simulator.client import SimulatorControl, SimulatorError

    control = SimulatorControl(sim.api_base)  # the /cgi-bin/ suffix is tolerated
    control.member("g1", name="导购")
    euid = control.customer("李女士")
    result = control.scan(euid, userid="g1", state="wb:1:xyz")
    assert result["welcome_code"] and result["state"] == "wb:1:xyz"
    assert control.wait_deliveries()
    assert receiver.of("add_external_contact")[0]["ExternalUserID"] == euid
    assert control.advance(5) == 1_750_000_005.0
    try:
        control.scan("wmnobody", userid="g1")
        raise AssertionError("expected an error")
    except SimulatorError as exc:
        assert exc.status == 404 and exc.code == "not_found"
    preflight = sim.http.options(sim.base + "/sim/members")
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert sim.http.get(sim.base + "/sim/health").headers["Access-Control-Allow-Origin"] == "*"
