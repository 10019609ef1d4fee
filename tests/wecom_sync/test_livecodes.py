"""Channel live codes (渠道活码) through the simulator over real HTTP: created with add_contact_way,
invalid channels refused before WeCom is called, a scan attributes the customer to the channel,
deactivation deletes the contact way."""

import pytest
from django_tenants.utils import schema_context

from guides.brand.models import Relationship
from scrm.errors import AppError
from wecom import livecodes
from wecom.brand.models import LiveCode
from wecom.models import CallbackEvent

# No django_db mark: these tests commit (the live server and the simulator see other connections).


def test_live_code_is_a_single_user_qr_contact_way_with_the_channel_as_state(simulator, wecom_guide):
    guide = wecom_guide()

    code = livecodes.livecode_create(guide=guide, state="counter-A01", name="柜台海报 A01", kind="counter",
                                     actor="test")

    ways = simulator.get("contact_ways")["contact_ways"]
    assert [(w["config_id"], w["type"], w["scene"], w["state"], w["user"], w["remark"]) for w in ways] == [
        (code.config_id, 1, 2, "counter-A01", [guide.wecom_userid], "柜台海报 A01")]
    assert code.qr_code.startswith(simulator.base_url) and code.qr_code.endswith(".png")
    with schema_context(guide.brand.schema_name):
        stored = LiveCode.objects.get()
    assert (stored.guide_id, stored.state, stored.kind, stored.is_active, stored.created_by) == (
        guide.pk, "counter-A01", "counter", True, "test")


@pytest.mark.parametrize(("state", "code"), [
    ("x" * 31, "state_too_long"),
    ("渠" * 31, "state_too_long"),
    ("   ", "state_required"),
    ("wb:1:spring", "state_reserved"),
], ids=["31 latin", "31 chinese", "blank", "wb prefix"])
def test_invalid_channel_is_refused_before_wecom_is_called(simulator, wecom_guide, state, code):
    guide = wecom_guide()

    with pytest.raises(AppError) as refused:
        livecodes.livecode_create(guide=guide, state=state, name="海报", actor="test")

    assert refused.value.code == code and "state" in refused.value.fields
    assert simulator.calls(endpoint="externalcontact/add_contact_way") == []
    with schema_context(guide.brand.schema_name):
        assert LiveCode.objects.count() == 0


def test_thirty_characters_is_the_limit_not_over_it(simulator, wecom_guide):
    guide = wecom_guide()

    code = livecodes.livecode_create(guide=guide, state="渠" * 30, name="海报", actor="test")

    assert code.state == "渠" * 30


def test_scanning_the_live_code_attributes_the_customer_to_its_channel(simulator, wecom_guide, drain):
    guide = wecom_guide()
    poster = livecodes.livecode_create(guide=guide, state="counter-A01", name="柜台海报", actor="test")
    entrance = livecodes.livecode_create(guide=guide, state="entrance-N", name="北门入口", kind="entrance",
                                         actor="test")
    first, second, third = (simulator.customer(name) for name in ("李雷", "韩梅梅", "林涛"))

    simulator.scan(first, config_id=poster.config_id)
    simulator.scan(second, config_id=poster.config_id)
    simulator.scan(third, config_id=entrance.config_id)
    drain()

    assert set(CallbackEvent.objects.filter(user_id=guide.wecom_userid).values_list("status", flat=True)) == {"done"}
    with schema_context(guide.brand.schema_name):
        channels = dict(Relationship.objects.filter(guide=guide).values_list("external_userid", "channel"))
        totals = livecodes.livecode_totals(LiveCode.objects.all())
    assert channels == {first: "counter-A01", second: "counter-A01", third: "entrance-N"}
    assert totals[poster.pk] == {"adds": 2, "active": 2, "deletes": 0, "net": 2}
    assert totals[entrance.pk] == {"adds": 1, "active": 1, "deletes": 0, "net": 1}
    assert livecodes.live_code_channel(guide=guide, state="counter-A01") == "counter-A01"
    assert livecodes.live_code_channel(guide=guide, state="no-such-code") is None


def test_a_guide_has_one_active_code_per_channel(simulator, wecom_guide):
    guide = wecom_guide()
    livecodes.livecode_create(guide=guide, state="event-618", name="618活动", kind="event", actor="test")

    with pytest.raises(AppError) as refused:
        livecodes.livecode_create(guide=guide, state="event-618", name="618活动", kind="event", actor="test")

    assert refused.value.code == "livecode_exists"
    assert len(simulator.calls(endpoint="externalcontact/add_contact_way")) == 1


def test_deactivating_deletes_the_contact_way_and_frees_the_channel(simulator, wecom_guide):
    guide = wecom_guide()
    code = livecodes.livecode_create(guide=guide, state="event-618", name="618活动", kind="event", actor="test")

    with schema_context(guide.brand.schema_name):
        livecodes.livecode_deactivate(code=code, actor="test")
        again = livecodes.livecode_deactivate(code=LiveCode.objects.get(pk=code.pk), actor="test")
    renewed = livecodes.livecode_create(guide=guide, state="event-618", name="618活动", kind="event", actor="test")

    assert (again.is_active, again.deactivated_at is not None) == (False, True)
    assert [w["config_id"] for w in simulator.get("contact_ways")["contact_ways"]] == [renewed.config_id]
    assert len(simulator.calls(endpoint="externalcontact/del_contact_way")) == 1


def test_wecom_refusal_is_a_clear_error_and_nothing_is_stored(simulator, wecom_guide):
    guide = wecom_guide()
    simulator.fail("externalcontact/add_contact_way", 41054)

    with pytest.raises(AppError) as refused:
        livecodes.livecode_create(guide=guide, state="counter-A01", name="海报", actor="test")

    assert (refused.value.code, refused.value.status) == ("wecom_error", 502)
    assert "41054" in refused.value.message
    with schema_context(guide.brand.schema_name):
        assert LiveCode.objects.count() == 0
