"""Full sync (全量同步) and nightly reconcile (夜间对账) against the simulator over real HTTP:
3 guides x 150 customers enrolled and related exactly once, resumable after a crash mid-run,
backing off on 45009, unknown WeCom members reported, and the reconcile repairing a missed add
and a missed delete."""

import io
import time

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from guides.brand.models import CustomerGroup, Relationship
from members.brand.models import BrandMember
from members.models import Member, MemberExternalId
from tenants.models import AuditEvent
from wecom import sync
from wecom.client import WeComError
from wecom.models import CorpTag, SyncRun

# No django_db mark: these tests commit (the simulator is a real HTTP server).

PER_GUIDE = 150


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.WECOM_SYNC_RETRY_SECONDS = 0
    settings.WECOM_SYNC_BACKOFF_SECONDS = 0.05


@pytest.fixture
def three_guides(simulator, wecom_guide):
    """Two lancome guides and one nike guide, each with 150 customers who added them before the
    platform was connected (seeded silently: no callbacks), one customer following both brands."""
    guides = [wecom_guide("lancome", name="陈小美"), wecom_guide("lancome", name="李娜"), wecom_guide("nike", name="王强")]
    customers = {}
    created_at = int(time.time()) - 30 * 86400
    follows = []
    for guide in guides:
        customers[guide.pk] = simulator.customers(PER_GUIDE, name_prefix=f"{guide.name}的客户")
        follows += [{"userid": guide.wecom_userid, "external_userid": euid, "state": "counter-A01",
                     "createtime": created_at} for euid in customers[guide.pk]]
    shared = customers[guides[0].pk][0]
    follows.append({"userid": guides[2].wecom_userid, "external_userid": shared, "state": "entrance",
                    "createtime": created_at, "remark": "两个品牌都买"})
    simulator.seed_follows(follows)
    return guides, customers, shared


def _all(customers) -> list[str]:
    return [euid for euids in customers.values() for euid in euids]


def _relationships(guide) -> list[tuple]:
    with schema_context(guide.brand.schema_name):
        return list(Relationship.objects.filter(guide=guide).values_list("external_userid", "status", "channel"))


def _assert_exactly_once(guides, customers, shared):
    euids = _all(customers)
    member_ids = set(MemberExternalId.objects.filter(external_userid__in=euids).values_list("member_id", flat=True))
    assert MemberExternalId.objects.filter(external_userid__in=euids).count() == len(euids) == 3 * PER_GUIDE
    assert len(member_ids) == Member.objects.filter(pk__in=member_ids).count() == 3 * PER_GUIDE
    lancome, _, nike = guides
    for guide in guides:
        rows = _relationships(guide)
        expected = PER_GUIDE + (1 if guide is nike else 0)
        assert len(rows) == len({r[0] for r in rows}) == expected
        assert {r[1] for r in rows} == {"active"}
    with schema_context(lancome.brand.schema_name):
        assert BrandMember.objects.filter(member_id__in=member_ids).count() == 2 * PER_GUIDE
    with schema_context(nike.brand.schema_name):
        assert BrandMember.objects.filter(member_id__in=member_ids).count() == PER_GUIDE + 1
        assert Relationship.objects.values_list("channel", "remark").get(external_userid=shared) == (
            "entrance", "两个品牌都买")  # the customer details the guide keeps in WeCom
    created = AuditEvent.objects.filter(action="relationship.created", guide_id__in=[g.pk for g in guides])
    assert created.count() == 3 * PER_GUIDE + 1


def test_full_sync_enrols_and_relates_every_customer_exactly_once(simulator, three_guides):
    guides, customers, shared = three_guides
    simulator.member("stranger", name="未登记成员", silent=True)
    strangers_customers = simulator.customers(3)
    simulator.seed_follows([{"userid": "stranger", "external_userid": e} for e in strangers_customers])

    run = sync.sync_execute(sync.sync_start().pk)

    assert (run.status, run.phase) == ("done", "done")
    assert run.unknown_userids == ["stranger"]
    assert (run.counts["guides"], run.counts["unknown_userids"]) == (3, 1)
    assert run.counts["customers_seen"] == 3 * PER_GUIDE + 1
    # the stranger's customers: no guide, so no brand; reported, never invented
    assert not MemberExternalId.objects.filter(external_userid__in=strangers_customers).exists()
    assert (run.counts["members_created"], run.counts["relationships_created"]) == (3 * PER_GUIDE, 3 * PER_GUIDE + 1)
    _assert_exactly_once(guides, customers, shared)
    assert len(simulator.calls(endpoint="externalcontact/batch/get_by_user")) == run.counts["pages"] == 5

    again = sync.sync_execute(sync.sync_start().pk)

    assert (again.counts.get("members_created", 0), again.counts.get("relationships_created", 0),
            again.counts.get("memberships_created", 0), again.counts.get("relationships_details_updated", 0)) == (
        0, 0, 0, 0)
    _assert_exactly_once(guides, customers, shared)


def test_sync_resumes_from_its_cursor_after_a_crash_mid_run(simulator, three_guides):
    guides, customers, shared = three_guides
    run = sync.sync_start()

    def crash_after_first_page(progress_run):
        if progress_run.phase == "customers" and progress_run.counts.get("pages") == 1:
            simulator.fail("externalcontact/batch/get_by_user", -1, count=None)  # WeCom is down from now on

    with pytest.raises(WeComError):
        sync.sync_execute(run.pk, progress=crash_after_first_page)

    crashed = SyncRun.objects.get(pk=run.pk)
    assert (crashed.status, crashed.phase, crashed.counts["pages"]) == ("failed", "customers", 1)
    assert crashed.cursor["page_cursor"] and crashed.errors
    assert crashed.counts["customers_seen"] == 100
    assert MemberExternalId.objects.filter(external_userid__in=_all(customers)).count() == 100
    simulator.post("fail/clear")
    calls_before = max(c["seq"] for c in simulator.calls())
    out = io.StringIO()

    call_command("wecom_sync", "--resume", stdout=out)

    finished = SyncRun.objects.get(pk=run.pk)
    assert (finished.status, finished.counts["pages"]) == ("done", 5)
    _assert_exactly_once(guides, customers, shared)
    resumed = [c for c in simulator.calls(endpoint="externalcontact/batch/get_by_user") if c["seq"] > calls_before]
    assert resumed[0]["body"]["cursor"] == crashed.cursor["page_cursor"]  # continued, not restarted
    text = out.getvalue()
    assert f"Resuming full run #{run.pk}" in text and "[####" in text and f"Run #{run.pk} done" in text


def test_resume_without_an_unfinished_run_is_a_clear_error(simulator):
    SyncRun.objects.filter(status__in=["running", "failed", "waiting"]).update(status="done")

    with pytest.raises(CommandError, match="No unfinished full run"):
        call_command("wecom_sync", "--resume", stdout=io.StringIO())


def test_rate_limit_backs_off_and_continues(simulator, three_guides):
    guides, customers, shared = three_guides
    simulator.fail("externalcontact/batch/get_by_user", 45009, count=2)

    run = sync.sync_execute(sync.sync_start().pk)

    assert (run.status, run.counts["rate_limited"]) == ("done", 2)
    _assert_exactly_once(guides, customers, shared)


def test_rate_limited_task_run_waits_with_its_cursor(simulator, three_guides):
    simulator.fail("externalcontact/batch/get_by_user", 45009, count=1)
    run = sync.sync_start()

    with pytest.raises(sync.RateLimited):
        sync.sync_execute(run.pk, wait_on_rate_limit=False)

    waiting = SyncRun.objects.get(pk=run.pk)
    assert (waiting.status, waiting.phase, waiting.locked_until) == ("waiting", "customers", None)
    assert waiting.resume_at is not None
    assert sync.sync_execute(run.pk).status == "done"


def test_full_sync_brings_tags_and_groups(simulator, platform_url, wecom_guide):
    guide = wecom_guide()
    customer = simulator.customer("老顾客")
    simulator.configure(callback_url="")  # all of this existed before the platform was connected
    simulator.post("tags", group_name="会员等级", tags=["金卡", "银卡"])
    chat_id = simulator.post("groupchats", owner=guide.wecom_userid, name="老客群", members=[customer],
                             silent=True)["groupchat"]["chat_id"]
    simulator.configure(callback_url=f"{platform_url}/wecom/callback/")

    run = sync.sync_execute(sync.sync_start().pk)

    assert (run.counts["tags"], run.counts["groups"]) == (2, 1)
    assert set(CorpTag.objects.filter(deleted=False).values_list("group_name", "name")) == {("会员等级", "金卡"),
                                                                                          ("会员等级", "银卡")}
    with schema_context(guide.brand.schema_name):
        group = CustomerGroup.objects.get(chat_id=chat_id)
    assert (group.name, group.owner_id, group.member_count, group.customer_count) == ("老客群", guide.pk, 2, 1)


# --------------------------------------------------------------------------- reconcile

def test_reconcile_repairs_a_missed_add_and_a_missed_delete(simulator, platform_url, wecom_guide, drain):
    guide = wecom_guide()
    kept, removed, one_way = simulator.customer("留下"), simulator.customer("被删"), simulator.customer("单向")
    for euid in (kept, removed, one_way):
        simulator.scan(euid, userid=guide.wecom_userid, state="poster")
    simulator.customer_deletes_member(one_way, guide.wecom_userid)  # delivered: ended, WeCom keeps a one-way follow
    drain()
    missed = simulator.customer("漏掉")
    simulator.configure(callback_url="")  # these two callbacks are lost
    simulator.scan(missed, userid=guide.wecom_userid, state="entrance")
    simulator.member_deletes_customer(guide.wecom_userid, removed)
    drain()  # the simulator reads callback_url when it delivers: let it skip these two before restoring it
    simulator.configure(callback_url=f"{platform_url}/wecom/callback/")
    out = io.StringIO()

    call_command("wecom_sync", "--reconcile", stdout=out)

    run = SyncRun.objects.filter(kind="reconcile").latest("id")
    assert run.status == "done"
    assert (run.counts["relationships_created"], run.counts["relationships_ended"]) == (1, 1)
    assert run.counts.get("relationships_reactivated", 0) == 0
    rows = {euid: (status, channel) for euid, status, channel in _relationships(guide)}
    assert rows == {kept: ("active", "poster"), removed: ("ended", "poster"), one_way: ("ended", "poster"),
                    missed: ("active", "entrance")}
    with schema_context(guide.brand.schema_name):
        assert Relationship.objects.get(external_userid=removed).ended_reason == "reconcile"
        assert Relationship.objects.get(external_userid=one_way).ended_reason == "deleted_by_customer"
    assert "relationships_created 1" in out.getvalue() and "relationships_ended 1" in out.getvalue()

    second = sync.sync_execute(sync.sync_start(kind="reconcile").pk)

    assert (second.counts.get("relationships_created", 0), second.counts.get("relationships_ended", 0)) == (0, 0)


def test_nightly_task_runs_the_reconcile(simulator, wecom_guide):
    from wecom.tasks_sync import reconcile_nightly

    guide = wecom_guide()
    simulator.seed_follows([{"userid": guide.wecom_userid, "external_userid": simulator.customer("夜里补上")}])

    run_id = reconcile_nightly.delay().get()

    run = SyncRun.objects.get(pk=run_id)
    assert (run.kind, run.status, run.counts["relationships_created"]) == ("reconcile", "done", 1)


def test_reconcile_copies_a_remark_changed_while_the_callback_was_lost_and_lists_its_fixes(
        simulator, platform_url, wecom_guide, drain):
    guide = wecom_guide()
    renamed, missed = simulator.customer("改了备注"), simulator.customer("漏掉的")
    simulator.scan(renamed, userid=guide.wecom_userid, state="poster")
    drain()
    simulator.configure(callback_url="")  # lost: the edit and the add
    simulator.post(f"members/{guide.wecom_userid}/edit_customer", external_userid=renamed, remark="老客户 VIP")
    simulator.scan(missed, userid=guide.wecom_userid, state="poster")
    drain()  # delivered (skipped) while callback_url is empty
    simulator.configure(callback_url=f"{platform_url}/wecom/callback/")
    out = io.StringIO()

    call_command("wecom_sync", "--reconcile", stdout=out)

    run = SyncRun.objects.filter(kind="reconcile").latest("id")
    assert (run.counts["relationships_details_updated"], run.counts["relationships_created"]) == (1, 1)
    assert sorted((f["fix"], f["external_userid"]) for f in run.fixes) == sorted([("details", renamed),
                                                                                  ("added", missed)])
    assert {f["guide"] for f in run.fixes} == {guide.wecom_userid}
    with schema_context(guide.brand.schema_name):
        assert Relationship.objects.get(external_userid=renamed).remark == "老客户 VIP"
        assert AuditEvent.objects.filter(action="relationship.details_updated", guide_id=guide.pk).count() == 1
    text = out.getvalue()
    assert "Reconcile fixed 对账修复: 1 added, 1 details corrected." in text
    assert f"details      guide {guide.wecom_userid}  customer {renamed}" in text

    again = sync.sync_execute(sync.sync_start(kind="reconcile").pk)

    assert again.fixes == [] and sync.fixed_summary(again) == ""


def test_killed_sync_process_is_taken_over_and_finishes_without_duplicates(simulator, three_guides, settings):
    """A real crash: the command's process is SIGKILLed mid-run (its lease still held), then resumed."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.e2e.test_inbox_no_loss import _database_url

    guides, customers, shared = three_guides
    simulator.configure(latency_ms={"externalcontact/batch/get_by_user": 400})
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "scrm.settings.test", "DATABASE_URL": _database_url(),
           "SCRM_TEST_WECOM_API_BASE": settings.WECOM_API_BASE}
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "manage.py", "wecom_sync"], cwd=root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        run = None
        while time.monotonic() < deadline:  # wait (not a timing assertion) until two pages are committed
            run = SyncRun.objects.filter(kind="full").order_by("-id").first()
            if run is not None and run.counts.get("pages", 0) >= 2:
                break
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    simulator.configure(latency_ms={})

    killed = SyncRun.objects.get(pk=run.pk)
    assert (killed.status, killed.phase) == ("running", "customers")
    assert 2 <= killed.counts["pages"] < 5 and killed.locked_until is not None
    # what the killed process committed is exactly what its saved counts say (one relationship per item seen)
    assert sum(len(_relationships(guide)) for guide in guides) == killed.counts["customers_seen"]
    with pytest.raises(CommandError, match="being executed elsewhere"):  # its lease still runs: not stolen
        call_command("wecom_sync", "--resume", stdout=io.StringIO())

    out = io.StringIO()
    call_command("wecom_sync", "--resume", "--force", stdout=out)

    finished = SyncRun.objects.get(pk=run.pk)
    assert (finished.status, finished.counts["pages"]) == ("done", 5)
    _assert_exactly_once(guides, customers, shared)
    assert f"Resuming full run #{run.pk} at phase customers" in out.getvalue()


def test_stalled_run_is_picked_up_by_the_sweeper_once_its_lease_ran_out(simulator, three_guides):
    from django.utils import timezone

    from wecom.tasks_sync import sync_resume_stalled

    guides, customers, shared = three_guides
    run = sync.sync_start()
    SyncRun.objects.filter(pk=run.pk).update(locked_until=timezone.now() - timezone.timedelta(seconds=1))

    assert sync_resume_stalled.delay().get() == 1

    assert SyncRun.objects.get(pk=run.pk).status == "done"
    _assert_exactly_once(guides, customers, shared)


def test_reconcile_reports_a_guide_whose_delete_user_was_lost(simulator, platform_url, wecom_guide, drain):
    from guides.models import Guide

    staying, gone = wecom_guide(name="留任"), wecom_guide(name="已离职")
    simulator.configure(callback_url="")
    simulator.resign(gone.wecom_userid)  # the delete_user callback is lost
    drain()
    simulator.configure(callback_url=f"{platform_url}/wecom/callback/")
    out = io.StringIO()

    call_command("wecom_sync", "--reconcile", stdout=out)

    run = SyncRun.objects.filter(kind="reconcile").latest("id")
    assert run.counts["guides_not_in_wecom"] == 1
    assert run.fixes == [{"fix": "not_in_wecom", "guide": gone.wecom_userid, "external_userid": ""}]
    assert Guide.objects.get(pk=gone.pk).status == "active"  # reported for a person to decide, not resigned
    assert Guide.objects.get(pk=staying.pk).status == "active"
    assert "1 directory guides not in WeCom (reported, not resigned)" in out.getvalue()
