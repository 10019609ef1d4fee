"""The mall admin shows each sync run's phase, progress and what the reconcile fixed."""

import pytest

from tests.admin.conftest import admin_client_for, admin_url, staff  # noqa: F401  (fixtures)
from wecom.models import SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs():
    userids = [f"g{i}" for i in range(250)]
    running = SyncRun.objects.create(corp_id="ww-test", kind="full", status="running", phase="customers",
                                     cursor={"userids": userids, "chunk": 1, "page_cursor": "abc"},
                                     counts={"customers_seen": 1200, "relationships_created": 1100, "pages": 12})
    reconciled = SyncRun.objects.create(
        corp_id="ww-test", kind="reconcile", status="done", phase="done",
        counts={"guides_reconciled": 2, "relationships_created": 1, "relationships_ended": 2,
                "relationships_details_updated": 1},
        fixes=[{"fix": "added", "guide": "g1", "external_userid": "wm-added"},
               {"fix": "ended", "guide": "g1", "external_userid": "wm-gone-1"},
               {"fix": "ended", "guide": "g2", "external_userid": "wm-gone-2"},
               {"fix": "details", "guide": "g2", "external_userid": "wm-remark"}])
    return running, reconciled


def test_changelist_shows_phase_progress_and_fixes(admin_client_for, staff, runs):  # noqa: F811
    running, reconciled = runs

    page = admin_client_for(staff.admin).get(admin_url("wecom_syncrun_changelist"))

    body = page.content.decode()
    assert page.status_code == 200
    # customers phase: one of three 100-guide chunks done -> (1 + 1/3) of 4 phases
    assert "33% · customers · guides 100/250 · customers_seen 1200, relationships_created 1100" in body
    assert "100% · done" in body
    assert "1 added, 2 ended, 1 details corrected" in body


def test_change_page_lists_every_fix(admin_client_for, staff, runs):  # noqa: F811
    _, reconciled = runs

    page = admin_client_for(staff.admin).get(admin_url("wecom_syncrun_change", reconciled.pk))

    body = page.content.decode()
    assert page.status_code == 200
    for euid in ("wm-added", "wm-gone-1", "wm-gone-2", "wm-remark"):
        assert euid in body


@pytest.fixture
def enqueued(monkeypatch):
    from wecom import tasks_sync

    calls = []
    monkeypatch.setattr(tasks_sync.sync_run, "delay", lambda run_id: calls.append(run_id))
    return calls


def _action(client, action, runs):
    return client.post(admin_url("wecom_syncrun_changelist"),
                       {"action": action, "_selected_action": [r.pk for r in runs]})


def test_resume_action_hands_stopped_runs_to_a_worker_but_not_a_held_or_done_one(
        admin_client_for, staff, runs, enqueued, django_capture_on_commit_callbacks):  # noqa: F811
    from django.utils import timezone

    running, reconciled = runs
    failed = SyncRun.objects.create(corp_id="ww-test", kind="full", status="failed", phase="customers")
    SyncRun.objects.filter(pk=running.pk).update(locked_until=timezone.now() + timezone.timedelta(minutes=5))

    with django_capture_on_commit_callbacks(execute=True):
        response = _action(admin_client_for(staff.admin), "resume", [running, reconciled, failed])

    assert response.status_code == 302
    assert enqueued == [failed.pk]


def test_run_again_starts_one_new_run_per_kind_and_corp(admin_client_for, staff, runs, enqueued,  # noqa: F811
                                                        django_capture_on_commit_callbacks):
    running, reconciled = runs
    before = set(SyncRun.objects.values_list("id", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        _action(admin_client_for(staff.admin), "run_again", [running, reconciled])

    new = SyncRun.objects.exclude(id__in=before)
    assert sorted(new.values_list("kind", "corp_id", "status", "phase")) == [
        ("full", "ww-test", "running", "follow_users"), ("reconcile", "ww-test", "running", "follow_users")]
    assert sorted(enqueued) == sorted(new.values_list("id", flat=True))


def test_a_read_only_role_cannot_start_or_resume(admin_client_for, staff, runs, enqueued,  # noqa: F811
                                                 django_capture_on_commit_callbacks):
    running, reconciled = runs
    before = SyncRun.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        _action(admin_client_for(staff.analyst), "run_again", [reconciled])
        _action(admin_client_for(staff.analyst), "resume", [running])

    assert (SyncRun.objects.count(), enqueued) == (before, [])
