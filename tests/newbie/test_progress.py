"""Progress from evidence, each reward credited once, scoped to the guide's own brand."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from tests.newbie.conftest import coins_of, ledger_of, progress_of

pytestmark = pytest.mark.django_db


def test_progress_is_counted_from_the_evidence_and_done_steps_pay_once(
        brand_a, newbie, add_customer, lifecycle_task, share_link):
    from tasks.newbie.services import newbie_refresh

    guide = newbie(brand_a)
    first, _ = add_customer(guide)
    add_customer(guide)
    lifecycle_task(guide, first)
    share_link(guide)

    result = newbie_refresh(brand=brand_a)

    assert progress_of(guide) == {
        "moments_cover": (0, False, ""),
        "add_customers": (2, False, ""),
        "post_moment": (0, False, ""),
        "first_lifecycle_task": (1, True, "auto:lifecycle_task_done"),
        "first_share_link": (1, True, "auto:share_link"),
    }
    assert (result.done, result.credited) == (2, 2)
    assert ledger_of(guide) == [("first_lifecycle_task", 20, 20), ("first_share_link", 20, 20)]
    assert coins_of(guide) == 40


def test_running_the_refresh_again_changes_nothing_and_pays_nothing_twice(brand_a, newbie, add_customer):
    from tasks.newbie.services import newbie_refresh

    guide = newbie(brand_a)
    for _ in range(3):
        add_customer(guide)

    first = newbie_refresh(brand=brand_a, guide_ids=[guide.pk])
    second = newbie_refresh(brand=brand_a, guide_ids=[guide.pk])
    third = newbie_refresh(brand=brand_a)

    assert progress_of(guide)["add_customers"] == (3, True, "auto:customers_added")
    assert (first.credited, second.changed, second.credited, third.credited) == (1, 0, 0, 0)
    assert ledger_of(guide) == [("add_customers", 30, 30)]
    assert coins_of(guide) == 30


def test_the_ledger_refuses_a_second_credit_even_if_the_progress_row_forgot_it(brand_a, newbie, share_link):
    from tasks.newbie.models import NewbieProgress
    from tasks.newbie.services import newbie_refresh

    guide = newbie(brand_a)
    share_link(guide)
    newbie_refresh(brand=brand_a, guide_ids=[guide.pk])
    NewbieProgress.objects.filter(guide=guide).update(reward_credited_at=None)  # as if the stamp were lost

    newbie_refresh(brand=brand_a, guide_ids=[guide.pk])

    assert ledger_of(guide) == [("first_share_link", 20, 20)]
    assert coins_of(guide) == 20


def test_a_step_stays_done_when_its_evidence_goes_away(brand_a, newbie, add_customer):
    from guides.services import relationship_end
    from tasks.newbie.services import newbie_refresh

    guide = newbie(brand_a)
    members = [add_customer(guide)[0] for _ in range(3)]
    newbie_refresh(brand=brand_a)
    relationship_end(guide=guide, member_id=members[0].pk, reason="deleted_by_customer")

    newbie_refresh(brand=brand_a)

    assert progress_of(guide)["add_customers"] == (3, True, "auto:customers_added")


def test_inherited_customers_do_not_count_as_added(brand_a, newbie, make_guide, add_customer):
    from guides.handover.models import Handover, HandoverItem
    from tasks.newbie.services import newbie_refresh

    guide = newbie(brand_a)
    departed = make_guide(brand_a, name="离职导购")
    member, relationship = add_customer(guide)
    with schema_context(brand_a.schema_name):
        handover = Handover.objects.create(guide=departed)
        HandoverItem.objects.create(handover=handover, member=member, successor=guide, state="done",
                                    to_relationship_id=relationship.pk)
    add_customer(guide)

    newbie_refresh(brand=brand_a)

    assert progress_of(guide)["add_customers"] == (1, False, "")


def test_customers_related_before_the_hire_date_do_not_count(brand_a, newbie, enroll):
    import datetime as dt

    from django.utils import timezone

    from guides.services import relationship_record
    from tasks.newbie.services import newbie_refresh

    guide = newbie(brand_a, days_ago=3)
    for n, days_ago in enumerate((10, 4, 1)):  # e.g. imported from WeCom with their real add time
        member = enroll(brand_a, guide=guide, unionid=f"u-before-hire-{n}").member
        relationship_record(guide=guide, member=member, added_at=timezone.now() - dt.timedelta(days=days_ago))

    newbie_refresh(brand=brand_a)

    assert progress_of(guide)["add_customers"] == (1, False, "")


def test_veterans_get_no_checklist_and_no_coins(brand_a, make_guide, add_customer, share_link):
    from tasks.newbie.services import newbie_refresh

    veteran = make_guide(brand_a, name="老导购")  # hired 2025-01-01
    share_link(veteran)
    for _ in range(3):
        add_customer(veteran)

    newbie_refresh(brand=brand_a)
    newbie_refresh(brand=brand_a, guide_ids=[veteran.pk])

    assert progress_of(veteran) == {} and ledger_of(veteran) == []


def test_another_brands_newbie_is_untouched_by_this_brands_refresh(brand_a, brand_b, newbie, add_customer,
                                                                     share_link):
    from tasks.newbie.services import newbie_refresh

    ours, theirs = newbie(brand_a), newbie(brand_b)
    share_link(ours)
    share_link(theirs)
    for _ in range(3):
        add_customer(theirs)

    newbie_refresh(brand=brand_a)
    newbie_refresh(brand=brand_a, guide_ids=[ours.pk, theirs.pk])  # another brand's guide id is ignored

    assert progress_of(theirs) == {} and ledger_of(theirs) == []
    assert progress_of(ours)["first_share_link"][1] is True

    newbie_refresh(brand=brand_b)

    assert progress_of(theirs)["add_customers"] == (3, True, "auto:customers_added")
    assert progress_of(ours)["add_customers"] == (0, False, "")


def test_a_guide_confirms_a_step_no_api_can_see_once_and_only_that_kind(brand_a, newbie, make_guide):
    from scrm.errors import Conflict, NotFound
    from tasks.newbie.models import NewbieStep
    from tasks.newbie.services import newbie_step_confirm

    guide = newbie(brand_a)
    cover = NewbieStep.objects.get(key="moments_cover")
    moment = NewbieStep.objects.get(key="post_moment")

    assert newbie_step_confirm(guide=guide, step_id=cover.pk) is True
    assert newbie_step_confirm(guide=guide, step_id=cover.pk) is False
    with pytest.raises(Conflict) as checked:
        newbie_step_confirm(guide=guide, step_id=moment.pk)
    with pytest.raises(NotFound):
        newbie_step_confirm(guide=guide, step_id=999_999)
    with pytest.raises(Conflict) as veteran:
        newbie_step_confirm(guide=make_guide(brand_a), step_id=cover.pk)

    assert progress_of(guide) == {"moments_cover": (1, True, "guide")}
    assert ledger_of(guide) == [("moments_cover", 10, 10)]
    assert checked.value.code == "step_verified_by_evidence" and veteran.value.code == "not_a_newbie"


def test_ops_edits_apply_to_steps_not_done_and_a_switched_off_step_disappears(brand_a, newbie, add_customer):
    from tasks.newbie.models import NewbieStep
    from tasks.newbie.selectors import guide_checklist
    from tasks.newbie.services import newbie_refresh

    guide = newbie(brand_a)
    add_customer(guide)
    NewbieStep.objects.filter(key="add_customers").update(target=1, reward_coins=50)
    NewbieStep.objects.filter(key="moments_cover").update(is_active=False)

    newbie_refresh(brand=brand_a)
    checklist = guide_checklist(guide=guide)

    assert ledger_of(guide) == [("add_customers", 50, 30)]
    assert [s.key for s in checklist.steps] == ["add_customers", "post_moment", "first_lifecycle_task",
                                                "first_share_link"]
    assert (checklist.done, checklist.total, checklist.coins_earned) == (1, 4, 50)
    assert checklist.next_step.key == "post_moment"


def test_the_moment_step_is_done_when_wecom_lists_a_moment_of_the_guide(brand_a, newbie, sim):
    from tasks.newbie.services import newbie_moment_check, newbie_moments_check

    guide, colleague = newbie(brand_a), newbie(brand_a, name="同事")
    sim.member(guide.wecom_userid, name=guide.name, silent=True)
    sim.member(colleague.wecom_userid, name=colleague.name, silent=True)
    sim.moment(colleague.wecom_userid, "同事的朋友圈")

    assert newbie_moment_check(guide=guide) is False
    sim.moment(guide.wecom_userid, "新品到店，欢迎来试～")
    assert newbie_moment_check(guide=guide) is True

    assert progress_of(guide)["post_moment"][1:] == (True, "auto:wecom_moment")
    assert ledger_of(guide) == [("post_moment", 20, 20)]
    assert newbie_moments_check(brand=brand_a) == 1  # the nightly run: the colleague's own moment
    assert ledger_of(colleague) == [("post_moment", 20, 20)]
    calls = sim.calls(endpoint="externalcontact/get_moment_list")
    assert newbie_moments_check(brand=brand_a) == 0
    assert len(sim.calls(endpoint="externalcontact/get_moment_list")) == len(calls)  # nobody left to ask


def test_wecom_down_is_reported_not_taken_as_no_moment(brand_a, newbie, sim):
    from tasks.newbie.services import MomentCheckUnavailable, newbie_moment_check

    guide = newbie(brand_a)
    sim.fail("externalcontact/get_moment_list", 60011)

    with pytest.raises(MomentCheckUnavailable):
        newbie_moment_check(guide=guide)
    assert progress_of(guide) == {}
