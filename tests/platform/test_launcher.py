"""`make run`'s launcher end to end on the embedded servers: healthy, then stops cleanly."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, host: str | None = None):
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_launcher_serves_a_healthy_platform_and_stops_cleanly(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    sim_port = _free_port()
    env.update(SCRM_DATA_DIR=str(tmp_path), PORT=str(port), SEED_MEMBERS="60", WORKER_CONCURRENCY="1",
               WECOM_SIMULATOR_PORT=str(sim_port))
    for name in ("WECOM_API_BASE", "WECOM_OAUTH_AUTHORIZE_URL"):
        env.pop(name, None)
    log_path = tmp_path / "launcher.log"
    log = log_path.open("w")
    launcher = subprocess.Popen([sys.executable, "-m", "scrm.launcher"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        health = None
        while time.monotonic() < deadline and launcher.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                if status == 200:
                    health = json.loads(body)
                    break
            except OSError:
                pass
            time.sleep(1)
        assert health is not None, "never became healthy"
        assert health["ok"] and health["workers"]["status"] == "up"
        assert _get(f"http://127.0.0.1:{port}/", host=f"localhost:{port}")[0] == 200
        assert _get(f"http://127.0.0.1:{port}/login/", host=f"lancome.localhost:{port}")[0] == 200
        assert _get(f"http://127.0.0.1:{port}/admin/login/", host=f"localhost:{port}")[0] == 200
        guides = json.loads(_get(f"http://127.0.0.1:{sim_port}/sim/members")[1])["members"]
        assert len(guides) == 40  # the bundled WeCom simulator knows the demo guides
        while time.monotonic() < deadline and "admin12345" not in log_path.read_text():
            time.sleep(0.5)  # the banner with the demo logins comes once the launcher saw /healthz
    finally:
        os.killpg(launcher.pid, signal.SIGINT)
        launcher.wait(timeout=60)
        log.close()
    output = log_path.read_text()
    assert launcher.returncode == 0, output[-3000:]
    assert "[scrm] stopped" in output
    assert "admin12345" in output  # the banner with the demo logins
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()  # embedded PostgreSQL stopped
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == []
