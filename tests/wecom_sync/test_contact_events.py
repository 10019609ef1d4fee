"""change_contact (member create / update / delete) and edit_external_contact (the guide's remark,
description and corp tags), through real encrypted callbacks from the simulator."""

import pytest
from django_tenants.utils import schema_context

from guides.brand.models import Relationship
from guides.models import Guide, GuideStatus
from tenants.models import AuditEvent
from tests.wecom.conftest import post_event  # noqa: F401  (fixture)
from wecom.models import CallbackEvent

# No django_db mark: these tests commit (the simulator is a real HTTP server).


def _event(change_type: str, userid: str) -> CallbackEvent:
    return CallbackEvent.objects.get(event="change_contact", change_type=change_type, user_id=userid)


def test_member_created_in_wecom_for_a_directory_guide_updates_their_name(simulator, guide_factory, drain):
    guide = guide_factory("lancome", name="旧名字")

    simulator.member(guide.wecom_userid, name="陈小美")
    drain()

    guide.refresh_from_db()
    event = _event("create_user", guide.wecom_userid)
    assert (event.status, guide.name) == ("done", "陈小美")
    assert "name" in event.result
    assert AuditEvent.objects.filter(action="guide.wecom_updated", guide_id=guide.pk).exists()


def test_member_update_changes_the_guides_name(simulator, wecom_guide, drain):
    guide = wecom_guide(name="李娜")

    simulator.member(guide.wecom_userid, name="李娜娜")
    drain()

    guide.refresh_from_db()
    assert (_event("update_user", guide.wecom_userid).status, guide.name) == ("done", "李娜娜")


def test_member_outside_the_directory_is_reported_not_invented(simulator, drain):
    guides_before = Guide.objects.count()

    simulator.member("stranger-1", name="陌生人")
    drain()

    event = _event("create_user", "stranger-1")
    assert event.status == "ignored"
    assert "not in the guide directory" in event.result
    assert Guide.objects.count() == guides_before


def test_member_deleted_in_wecom_resigns_the_guide_and_starts_the_handover(simulator, wecom_guide, drain,
                                                                            monkeypatch):
    import guides.services

    calls = []
    real = guides.services.guide_resign

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(guides.services, "guide_resign", spy)
    guide = wecom_guide()

    simulator.resign(guide.wecom_userid)
    drain()

    guide.refresh_from_db()
    assert [(c["guide"].pk, c["source"]) for c in calls] == [(guide.pk, "wecom_callback")]
    assert guide.status == GuideStatus.RESIGNED
    assert _event("delete_user", guide.wecom_userid).status == "done"
    assert AuditEvent.objects.filter(action="guide.resigned", guide_id=guide.pk).count() == 1


def test_deleted_member_outside_the_directory_is_ignored(simulator, drain):
    simulator.member("stranger-2", name="陌生人", silent=True)

    simulator.resign("stranger-2")
    drain()

    assert _event("delete_user", "stranger-2").status == "ignored"


def test_edit_external_contact_copies_remark_description_and_tags(simulator, wecom_guide, drain):
    guide = wecom_guide()
    tag_id = simulator.post("tags", group_name="兴趣", tags=["护肤"])["tag_group"]["tag"][0]["id"]
    customer = simulator.customer("王芳")
    simulator.scan(customer, userid=guide.wecom_userid, state="poster")
    drain()

    simulator.post(f"members/{guide.wecom_userid}/edit_customer", external_userid=customer, remark="王芳 VIP",
                   description="喜欢小黑瓶", add_tag=[tag_id])
    drain()

    with schema_context(guide.brand.schema_name):
        row = Relationship.objects.get(guide=guide, external_userid=customer)
    assert (row.remark, row.description, row.tag_ids) == ("王芳 VIP", "喜欢小黑瓶", [tag_id])
    edit = CallbackEvent.objects.get(change_type="edit_external_contact", external_userid=customer)
    assert edit.status == "done" and "remark" in edit.result


@pytest.mark.django_db
def test_renamed_wecom_account_moves_the_guide_to_the_new_userid(post_event, brand_a, make_guide):  # noqa: F811
    from wecom.services import inbox_process

    guide = make_guide(brand_a, userid="old-userid", name="陈小美")

    response = post_event(Event="change_contact", ChangeType="update_user", UserID="old-userid",
                          NewUserID="new-userid", Name="陈小美")
    event = CallbackEvent.objects.get(change_type="update_user", user_id="old-userid")
    inbox_process(event.pk)

    guide.refresh_from_db()
    event.refresh_from_db()
    assert response.status_code == 200
    assert (event.status, guide.wecom_userid) == ("done", "new-userid")
    assert "userid" in event.result
