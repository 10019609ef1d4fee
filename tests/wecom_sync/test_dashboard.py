"""The brand dashboard's 活码 Live codes and 客户群 Groups pages, against the simulator."""

from django.test import Client
from django_tenants.utils import schema_context

from wecom.brand.models import LiveCode

# No django_db mark: these tests commit (the simulator is a real HTTP server).


def _manager(brand, username="lc-manager", role="brand_manager"):
    from django.contrib.auth import get_user_model

    from tenants.models import StaffRole

    user = get_user_model().objects.create_user(username=username, password="pass12345")
    StaffRole.objects.create(user=user, role=role, brand=brand if role == "brand_manager" else None)
    client = Client(HTTP_HOST=f"{brand.slug}.localhost")
    client.force_login(user)
    return client


def test_manager_creates_a_live_code_downloads_its_qr_and_sees_it_listed(simulator, wecom_guide):
    guide = wecom_guide()
    dashboard = _manager(guide.brand)

    created = dashboard.post("/livecodes/", {"guide": guide.pk, "kind": "entrance", "state": "entrance-N",
                                             "name": "北门入口"})
    page = dashboard.get("/livecodes/")
    with schema_context(guide.brand.schema_name):
        code = LiveCode.objects.get()
    qr = dashboard.get(f"/livecodes/{code.pk}/qr.png")

    assert created.status_code == 302
    assert page.status_code == 200
    body = page.content.decode()
    assert "entrance-N" in body and "北门入口" in body and guide.name in body
    assert [c.pk for c in page.context["codes"]] == [code.pk]
    assert len(page.context["table"]["rows"]) == 30
    assert qr.status_code == 200 and qr["Content-Type"] == "image/png"
    assert qr.content.startswith(b"\x89PNG") and "attachment" in qr["Content-Disposition"]


def test_too_long_channel_is_shown_as_a_form_error_and_wecom_is_not_called(simulator, wecom_guide):
    guide = wecom_guide()
    dashboard = _manager(guide.brand)

    response = dashboard.post("/livecodes/", {"guide": guide.pk, "kind": "counter", "state": "c" * 31,
                                              "name": "海报"})

    assert response.status_code == 400
    assert "30" in " ".join(response.context["form"].errors["state"])
    assert simulator.calls(endpoint="externalcontact/add_contact_way") == []


def test_deactivate_from_the_dashboard(simulator, wecom_guide):
    guide = wecom_guide()
    dashboard = _manager(guide.brand)
    dashboard.post("/livecodes/", {"guide": guide.pk, "kind": "counter", "state": "counter-A01", "name": "海报"})
    with schema_context(guide.brand.schema_name):
        code = LiveCode.objects.get()

    response = dashboard.post(f"/livecodes/{code.pk}/deactivate/")

    assert response.status_code == 302
    with schema_context(guide.brand.schema_name):
        assert LiveCode.objects.get().is_active is False
    assert simulator.get("contact_ways")["contact_ways"] == []


def test_another_brands_manager_cannot_see_or_touch_the_codes(simulator, wecom_guide):
    from tenants.models import Brand

    guide = wecom_guide("lancome")
    _manager(guide.brand).post("/livecodes/", {"guide": guide.pk, "kind": "counter", "state": "lancome-vip-7",
                                               "name": "海报"})
    with schema_context(guide.brand.schema_name):
        code = LiveCode.objects.get()
    nike = _manager(Brand.objects.get(slug="nike"), username="nike-manager")
    stolen = Client(HTTP_HOST=f"{guide.brand.slug}.localhost")
    stolen.cookies = nike.cookies  # nike's session replayed on lancome's host

    assert stolen.get("/livecodes/").status_code == 403
    assert stolen.get(f"/livecodes/{code.pk}/qr.png").status_code == 403
    assert stolen.post(f"/livecodes/{code.pk}/deactivate/").status_code == 403
    own = nike.get("/livecodes/")
    assert own.status_code == 200 and "lancome-vip-7" not in own.content.decode()


def test_groups_page_lists_the_brands_groups(simulator, wecom_guide, drain):
    guide = wecom_guide()
    customer = simulator.customer("李雷")
    simulator.groupchat(guide.wecom_userid, name="兰蔻静安会员群", members=[customer])
    drain()

    page = _manager(guide.brand).get("/groups/")

    assert page.status_code == 200
    assert "兰蔻静安会员群" in page.content.decode()
    assert [(g.name, g.member_count, g.customer_count) for g in page.context["page"].items] == [
        ("兰蔻静安会员群", 2, 1)]


def test_another_brands_manager_cannot_see_or_touch_the_groups_or_group_codes(simulator, wecom_guide, drain):
    from tenants.models import Brand
    from wecom.brand.models import GroupLiveCode

    guide = wecom_guide("lancome")
    chat_id = simulator.groupchat(guide.wecom_userid, name="兰蔻私密会员群", members=[simulator.customer("韩梅梅")])
    drain()
    lancome = _manager(guide.brand)
    created = lancome.post("/groups/", {"name": "兰蔻群码", "scope": "brand", "chat_ids": [chat_id],
                                        "state": "lancome-vip-group", "auto_create_room": "on"})
    with schema_context(guide.brand.schema_name):
        code = GroupLiveCode.objects.get()
    nike = _manager(Brand.objects.get(slug="nike"), username="nike-groups-manager")
    stolen = Client(HTTP_HOST=f"{guide.brand.slug}.localhost")
    stolen.cookies = nike.cookies  # nike's session replayed on lancome's host

    assert created.status_code == 302
    assert stolen.get("/groups/").status_code == 403
    assert stolen.get(f"/groups/livecodes/{code.pk}/qr.png").status_code == 403
    assert stolen.post(f"/groups/livecodes/{code.pk}/deactivate/").status_code == 403
    own = nike.get("/groups/").content.decode()
    assert "兰蔻私密会员群" not in own and "兰蔻群码" not in own
    assert nike.get(f"/groups/livecodes/{code.pk}/qr.png").status_code == 404  # nike's schema has no such code
    with schema_context(guide.brand.schema_name):
        assert GroupLiveCode.objects.get().is_active is True
    assert lancome.get(f"/groups/livecodes/{code.pk}/qr.png")["Content-Type"] == "image/png"

    deactivated = lancome.post(f"/groups/livecodes/{code.pk}/deactivate/")

    assert deactivated.status_code == 302
    with schema_context(guide.brand.schema_name):
        assert GroupLiveCode.objects.get().is_active is False
    assert simulator.get("join_ways")["join_ways"] == []
