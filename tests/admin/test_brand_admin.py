"""Brands and API clients in the admin go through the tenant services."""

from __future__ import annotations

from django.db import connection

from tenants.models import ApiClient, AuditEvent, Brand, BrandStatus
from tenants.services import api_client_authenticate

from .conftest import admin_url


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_adding_a_brand_onboards_it_with_schema_and_domain(admin_client_for, staff):
    response = admin_client_for(staff.operator).post(admin_url("tenants_brand_add"), {
        "name": "雅诗兰黛", "name_en": "Estee Lauder", "slug": "esteelauder", "category": "cosmetics"})

    brand = Brand.objects.get(slug="esteelauder")
    assert response.status_code == 302
    assert brand.schema_name == "brand_esteelauder" and _schema_exists("brand_esteelauder")
    assert list(brand.domains.values_list("domain", "is_primary")) == [("esteelauder.localhost", True)]
    assert AuditEvent.objects.filter(action="brand.onboarded", brand=brand, actor=f"user:{staff.operator.pk}").exists()


def test_bad_slug_is_a_form_error_and_writes_nothing(admin_client_for, staff):
    response = admin_client_for(staff.admin).post(admin_url("tenants_brand_add"), {
        "name": "坏", "slug": "Admin", "category": "cosmetics"})

    assert response.status_code == 200
    assert "slug" in response.context["adminform"].form.errors
    assert not Brand.objects.filter(slug="admin").exists() and not _schema_exists("brand_admin")


def test_slug_and_schema_are_read_only_after_creation(admin_client_for, staff, brand_b):
    client = admin_client_for(staff.admin)
    url = admin_url("tenants_brand_change", brand_b.pk)
    page = client.get(url)

    response = client.post(url, {
        "name": "耐克 Nike", "name_en": "Nike", "slug": "hacked", "schema_name": "public", "category": "shoes",
        "sharing_policy": "full", **_management_form(page)})

    brand_b.refresh_from_db()
    assert response.status_code == 302
    assert (brand_b.slug, brand_b.schema_name, brand_b.sharing_policy) == ("nike", "brand_nike", "full")


def _management_form(page) -> dict:
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
        for form in formset.forms:
            data.update({form.add_prefix(name): form[name].value() for name in form.fields
                         if form[name].value() not in (None, False)})
    return data


def test_suspend_and_resume_actions_call_the_services(admin_client_for, staff, brand_b):
    client = admin_client_for(staff.operator)
    changelist = admin_url("tenants_brand_changelist")

    client.post(changelist, {"action": "suspend", "_selected_action": [brand_b.pk], "index": 0})
    brand_b.refresh_from_db()
    suspended = brand_b.status
    client.post(changelist, {"action": "resume", "_selected_action": [brand_b.pk], "index": 0})
    brand_b.refresh_from_db()

    assert suspended == BrandStatus.SUSPENDED and brand_b.status == BrandStatus.ACTIVE
    actions = AuditEvent.objects.filter(brand=brand_b, actor=f"user:{staff.operator.pk}").order_by("id")
    assert list(actions.values_list("action", flat=True)) == ["brand.suspended", "brand.resumed"]


def test_analyst_cannot_run_the_suspend_action(admin_client_for, staff, brand_b):
    client = admin_client_for(staff.analyst)

    client.post(admin_url("tenants_brand_changelist"), {"action": "suspend", "_selected_action": [brand_b.pk],
                                                        "index": 0})

    brand_b.refresh_from_db()
    assert brand_b.status == BrandStatus.ACTIVE


def test_brands_cannot_be_deleted(admin_client_for, staff, brand_b):
    response = admin_client_for(staff.admin).post(admin_url("tenants_brand_delete", brand_b.pk), {"post": "yes"})

    assert response.status_code == 403 and Brand.objects.filter(pk=brand_b.pk).exists()


def test_new_api_client_shows_its_key_once(admin_client_for, staff, brand_a):
    client = admin_client_for(staff.admin)

    response = client.post(admin_url("tenants_apiclient_add"), {"name": "兰蔻 POS", "brand": brand_a.pk},
                           follow=True)
    shown = [str(m) for m in response.context["messages"] if "sk_" in str(m)]
    key = shown[0].split(": ")[-1].strip()
    again = client.get(admin_url("tenants_apiclient_change", ApiClient.objects.get(name="兰蔻 POS").pk))

    assert len(shown) == 1
    assert api_client_authenticate(key).brand == brand_a
    assert key not in again.content.decode()
