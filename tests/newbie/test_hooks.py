"""Where the checklist moves: the WeCom add path (after the welcome message), a share link, a task done;
and the periodic catch-up."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.newbie.conftest import coins_of, ledger_of, progress_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def add_event(sim, settings):
    """add_event(guide) -> a stored add_external_contact callback for a new simulated customer."""
    from wecom.models import CallbackEvent

    def make(guide, *, welcome_code="WC-1"):
        sim.member(guide.wecom_userid, name=guide.name, silent=True)
        euid = sim.customer("李女士")
        sim.seed_follows([{"userid": guide.wecom_userid, "external_userid": euid, "state": "poster"}])
        now = int(timezone.now().timestamp())
        payload = {"Event": "change_external_contact", "ChangeType": "add_external_contact",
                   "UserID": guide.wecom_userid, "ExternalUserID": euid, "State": "poster",
                   "WelcomeCode": welcome_code, "CreateTime": str(now)}
        return CallbackEvent.objects.create(
            corp_id=settings.WECOM_CORP_ID, dedup_key=f"newbie-{euid}", event="change_external_contact",
            change_type="add_external_contact", user_id=guide.wecom_userid, external_userid=euid, create_time=now,
            payload=payload)

    return make


@pytest.fixture
def calls(monkeypatch):
    """Records, in order, the welcome send and the newbie enqueue of the add path (the refresh still runs)."""
    import tasks.newbie.tasks as newbie_tasks
    import wecom.tasks as wecom_tasks

    order = []
    monkeypatch.setattr(wecom_tasks, "welcome_send_now", lambda delivery_id: order.append(("welcome", delivery_id)))
    # a new customer's add goes the batch way (wecom/adds.py), which sends its batch's welcomes at once
    monkeypatch.setattr(wecom_tasks, "welcome_send_many_now", lambda ids: order.append(("welcome", ids)))
    real = newbie_tasks.refresh_guides

    class Recorder:
        @staticmethod
        def delay(guide_ids):
            order.append(("newbie", guide_ids))
            return real.apply(args=(guide_ids,))

    monkeypatch.setattr(newbie_tasks, "refresh_guides", Recorder)
    return order


def test_a_customer_add_enqueues_the_newbie_update_after_the_welcome_message(
        brand_a, newbie, add_event, calls, django_capture_on_commit_callbacks):
    from wecom.services import inbox_process

    guide = newbie(brand_a)
    event = add_event(guide)

    with django_capture_on_commit_callbacks(execute=True):
        assert inbox_process(event.pk) == "done"

    assert [kind for kind, _ in calls] == ["welcome", "newbie"]
    assert calls[1] == ("newbie", [guide.pk])
    assert progress_of(guide)["add_customers"] == (1, False, "")


def test_the_third_customer_pays_the_add_customers_reward(brand_a, newbie, add_customer, add_event, calls,
                                                          django_capture_on_commit_callbacks):
    from wecom.services import inbox_process

    guide = newbie(brand_a)
    add_customer(guide)
    add_customer(guide)

    with django_capture_on_commit_callbacks(execute=True):
        inbox_process(add_event(guide, welcome_code="").pk)  # no WelcomeCode: nothing to send, still counted

    assert calls == [("newbie", [guide.pk])]
    assert progress_of(guide)["add_customers"] == (3, True, "auto:customers_added")
    assert ledger_of(guide) == [("add_customers", 30, 30)] and coins_of(guide) == 30


def test_a_veterans_add_enqueues_nothing(brand_a, make_guide, add_event, calls, django_capture_on_commit_callbacks):
    from wecom.services import inbox_process

    veteran = make_guide(brand_a)

    with django_capture_on_commit_callbacks(execute=True):
        inbox_process(add_event(veteran).pk)

    assert [kind for kind, _ in calls] == ["welcome"]


def test_making_a_share_link_updates_the_checklist_after_commit(brand_a, newbie, share_link,
                                                                django_capture_on_commit_callbacks):
    guide = newbie(brand_a)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        share_link(guide)
        share_link(guide)  # the same target: the same link, nothing new

    assert [c.__qualname__ for c in callbacks].count("newbie_refresh_later.<locals>.enqueue") == 1
    assert progress_of(guide)["first_share_link"] == (1, True, "auto:share_link")
    assert ledger_of(guide) == [("first_share_link", 20, 20)]


def test_a_task_done_in_the_sidebar_updates_the_checklist(brand_a, newbie, add_customer, lifecycle_task,
                                                          django_capture_on_commit_callbacks):
    from tasks.services import task_complete

    guide = newbie(brand_a)
    member, _ = add_customer(guide)
    task = lifecycle_task(guide, member, state="open")

    with django_capture_on_commit_callbacks(execute=True):
        task_complete(guide=guide, task_id=task.pk, note="已发")

    assert progress_of(guide)["first_lifecycle_task"] == (1, True, "auto:lifecycle_task_done")


def test_the_catch_up_covers_tasks_the_engine_completed_from_evidence(brand_a, brand_b, newbie, add_customer,
                                                                      lifecycle_task):
    from tasks.newbie.tasks import dispatch

    guide = newbie(brand_a)
    member, _ = add_customer(guide)
    lifecycle_task(guide, member, state="done")  # as the engine's set-based UPDATE would: no hook ran

    assert dispatch() >= 1  # eager: one job per brand that has newbies

    assert progress_of(guide)["first_lifecycle_task"][1] is True


def test_every_schedule_entry_names_a_registered_task():
    from scrm.celery import app
    from scrm.schedules import CELERY_BEAT_SCHEDULE

    app.loader.import_default_modules()
    assert {"newbie.dispatch", "newbie.refresh_brand", "newbie.refresh_guides"} <= set(app.tasks)
    assert CELERY_BEAT_SCHEDULE["newbie-moments"]["kwargs"] == {"moments": True}
