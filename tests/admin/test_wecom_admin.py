"""Mall ops see the WeCom inbox and calls, re-drive failed calls, and keep brand corps' secrets encrypted."""

from members.identity import decrypt
from wecom.models import ApiCall, CallbackEvent, Corp

from .conftest import admin_url


def test_wecom_pages_render(admin_client_for, staff, db):
    CallbackEvent.objects.create(corp_id="c", dedup_key="k", event="change_external_contact",
                                 change_type="add_external_contact", create_time=1, payload={"UserID": "u"})
    ApiCall.objects.create(corp_id="c", method="GET", endpoint="externalcontact/get", status="error", errcode=-1)
    client = admin_client_for(staff.admin)
    for name in ("callbackevent", "apicall", "callbackrejection", "welcomedelivery", "corp"):
        assert client.get(admin_url(f"wecom_{name}_changelist")).status_code == 200, name
    event = CallbackEvent.objects.get()
    assert client.get(admin_url("wecom_callbackevent_change", event.pk)).status_code == 200


def test_a_call_that_would_duplicate_a_side_effect_is_not_redriven(admin_client_for, staff, db):
    call = ApiCall.objects.create(corp_id="c", method="POST", endpoint="externalcontact/send_welcome_msg",
                                  status="error", errcode=41050, redrivable=False)
    response = admin_client_for(staff.admin).post(admin_url("wecom_apicall_changelist"),
                                                  {"action": "redrive", "_selected_action": [call.pk]}, follow=True)
    assert "不可重发 1" in response.content.decode()
    assert ApiCall.objects.count() == 1  # nothing was called


def test_analyst_cannot_redrive(admin_client_for, staff, db):
    call = ApiCall.objects.create(corp_id="c", method="GET", endpoint="externalcontact/get", status="error",
                                  errcode=-1)
    response = admin_client_for(staff.analyst).post(admin_url("wecom_apicall_changelist"),
                                                    {"action": "redrive", "_selected_action": [call.pk]})
    assert ApiCall.objects.count() == 1
    assert response.status_code in (200, 302, 403)


def test_brand_corp_secrets_are_encrypted_at_rest(admin_client_for, staff, brand_a):
    response = admin_client_for(staff.admin).post(admin_url("wecom_corp_add"), {
        "corp_id": "wwbrandcorp0001", "name": "兰蔻企业微信", "brand": brand_a.pk, "agent_id": "1000009",
        "secret": "brand-secret-value", "agent_secret": "agent-secret-value", "token": "tok",
        "aes_key": "A" * 43})
    assert response.status_code == 302, response.content[:500]
    corp = Corp.objects.get()
    assert "brand-secret-value" not in corp.secret_encrypted
    assert decrypt(corp.secret_encrypted) == "brand-secret-value"
    assert decrypt(corp.aes_key_encrypted) == "A" * 43
