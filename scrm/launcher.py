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

BASE_DIR = Path(__file__).resolve().parent.parent


def _say(message: str) -> None:
    print(f"[scrm] {message}", flush=True)


def _manage(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


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
    try:
        _say("migrating the mall (public) schema and every brand schema")
        _manage("migrate_schemas", "--shared", "-v", "0", env=env)
        _manage("migrate_schemas", "--tenant", "-v", "0", env=env)
        _say("seeding the demo mall (idempotent)")
        seed_args = ["--members", env["SEED_MEMBERS"]] if env.get("SEED_MEMBERS") else []
        _manage("seed_demo", *seed_args, env=env)
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
