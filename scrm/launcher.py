"""`make run`: one foreground command for the whole platform.

Starts the embedded PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL are set), migrates the
shared and every brand schema, seeds the demo mall (idempotent), then runs web, Celery worker and
Celery beat side by side. Ctrl-C stops all of them, then the embedded servers (data is kept).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from scrm import embedded
from wecom.demo import DEMO_CORP, SIMULATOR_PORT

BASE_DIR = Path(__file__).resolve().parent.parent


def _say(message: str) -> None:
    print(f"[scrm] {message}", flush=True)


def _manage(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def _wait_url(url: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except Exception:
            time.sleep(0.3)
    return False


def _wait_healthy(port: str, timeout: float = 60) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except Exception:
            pass
        time.sleep(0.5)
    return None


def _stop_requested(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    # Ctrl-C and `kill` both stop everything cleanly, even when started from a script that
    # ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, _stop_requested)
    signal.signal(signal.SIGTERM, _stop_requested)
    t0 = time.monotonic()
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.local")
    env["PYTHONUNBUFFERED"] = "1"
    port = env.get("PORT", "8000")
    if not env.get("DATABASE_URL"):
        _say("starting embedded PostgreSQL (data in .data/postgres)")
        env["DATABASE_URL"] = embedded.postgres_url()
    if not env.get("REDIS_URL"):
        _say("starting embedded Redis (data in .data/redis)")
        env["REDIS_URL"] = embedded.redis_url()
    children: list[subprocess.Popen] = []
    simulator_url = ""
    if not env.get("WECOM_API_BASE"):
        # No WeCom configured: the bundled simulator plays WeCom (and its customers) for the demo.
        for name, value in DEMO_CORP.items():
            env.setdefault(name, value)
        sim_port = env.get("WECOM_SIMULATOR_PORT", str(SIMULATOR_PORT))
        simulator_url = f"http://127.0.0.1:{sim_port}"
        env["WECOM_API_BASE"] = f"{simulator_url}/cgi-bin/"
        env["WECOM_OAUTH_AUTHORIZE_URL"] = f"{simulator_url}/connect/oauth2/authorize"
    try:
        if simulator_url:
            _say(f"starting the WeCom simulator on {simulator_url} (state in .data/wecom-simulator.json)")
            children.append(subprocess.Popen(
                [sys.executable, "-m", "wecom.simulator", "--host", "127.0.0.1", "--port", sim_port,
                 "--corp-id", env["WECOM_CORP_ID"], "--corp-secret", env["WECOM_SECRET"],
                 "--agent-id", env["WECOM_AGENT_ID"], "--agent-secret", env["WECOM_AGENT_SECRET"],
                 "--token", env["WECOM_TOKEN"], "--aes-key", env["WECOM_AES_KEY"],
                 "--callback-url", f"http://127.0.0.1:{port}/wecom/callback/",
                 "--state-file", str(embedded.DATA_DIR / "wecom-simulator.json")],
                cwd=BASE_DIR, env=env, start_new_session=True))
        else:
            _say(f"using WeCom at {env['WECOM_API_BASE']} (no simulator)")
        _say("migrating the mall (public) schema and every brand schema")
        _manage("migrate_schemas", "--shared", "-v", "0", env=env)
        _manage("migrate_schemas", "--tenant", "-v", "0", env=env)
        _say("seeding the demo mall (idempotent)")
        seed_args = ["--members", env["SEED_MEMBERS"]] if env.get("SEED_MEMBERS") else []
        _manage("seed_demo", *seed_args, env=env)
        if simulator_url:
            _wait_url(f"{simulator_url}/sim/health")
            _manage("demo_simulator", env=env)
        beat_schedule = str(embedded.DATA_DIR / "celerybeat-schedule")
        commands = {
            "web": [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [sys.executable, "-m", "celery", "-A", "scrm", "worker", "-l", "INFO",
                       "--concurrency", env.get("WORKER_CONCURRENCY", "2"), "-n", "worker@%h"],
            "beat": [sys.executable, "-m", "celery", "-A", "scrm", "beat", "-l", "INFO", "-s", beat_schedule],
        }
        for name, command in commands.items():
            _say(f"starting {name}")
            children.append(subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True))
        healthy_after = _wait_healthy(port)
        if healthy_after is None:
            _say("WARNING: /healthz is not healthy yet; see the logs above")
        else:
            _say(f"healthy {time.monotonic() - t0:.1f}s after start")
        _manage("demo_banner", "--port", port, env=env)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        _say("a process exited; stopping the others")
        return 1
    except KeyboardInterrupt:
        _say("Ctrl-C: stopping web, worker and beat")
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        embedded.stop()
        _say("stopped")


if __name__ == "__main__":
    sys.exit(main())
