"""Admin access follows the StaffRole: admin full, operator all but staff/API clients, analyst read-only,
brand roles and guides nothing at all."""

from __future__ import annotations

import pytest

from .conftest import admin_url


@pytest.mark.parametrize("role", ["admin", "operator", "analyst"])
def test_mall_roles_see_the_admin(admin_client_for, staff, role):
    response = admin_client_for(getattr(staff, role)).get(admin_url("index"))

    assert response.status_code == 200
    assert {app["app_label"] for app in response.context["app_list"]} >= {"tenants", "members", "guides"}


@pytest.mark.parametrize("role", ["brand_manager", "guide"])
def test_brand_roles_and_guides_get_nothing(admin_client_for, staff, role):
    client = admin_client_for(getattr(staff, role))  # is_staff, but not a mall role

    index = client.get(admin_url("index"))
    members = client.get(admin_url("members_member_changelist"))
    brands = client.get(admin_url("tenants_brand_changelist"))

    assert index.status_code == 200 and index.context["app_list"] == []
    assert members.status_code == 403 and brands.status_code == 403


def test_login_without_is_staff_is_sent_to_the_admin_login(admin_client_for, make_user):
    manager = make_user("plain-manager", "mall_admin")  # the role alone does not open the admin

    response = admin_client_for(manager).get(admin_url("members_member_changelist"))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_superuser_without_staff_role_has_full_access(admin_client_for, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="x")

    response = admin_client_for(root).get(admin_url("tenants_staffrole_add"))

    assert response.status_code == 200


def test_analyst_views_but_cannot_change_or_add(admin_client_for, staff, mall_data):
    client = admin_client_for(staff.analyst)
    change_url = admin_url("members_member_change", mall_data.member.pk)

    listing = client.get(admin_url("members_member_changelist"))
    view = client.get(change_url)
    change = client.post(change_url, {"name": "改名"})
    add = client.get(admin_url("members_coupontemplate_add"))
    adjust = client.get(admin_url("members_member_points_adjust", mall_data.member.pk))

    assert listing.status_code == 200 and view.status_code == 200
    assert change.status_code == 403 and add.status_code == 403 and adjust.status_code == 403
    mall_data.member.refresh_from_db()
    assert mall_data.member.name == "王丽娜"


@pytest.mark.parametrize("url_name", ["tenants_staffrole_add", "tenants_apiclient_add", "auth_user_add"])
def test_operator_cannot_manage_logins_or_api_clients(admin_client_for, staff, url_name):
    response = admin_client_for(staff.operator).get(admin_url(url_name))

    assert response.status_code == 403


@pytest.mark.parametrize("url_name", ["tenants_brand_add", "members_coupontemplate_add", "tenants_store_add"])
def test_operator_can_run_the_mall(admin_client_for, staff, url_name):
    response = admin_client_for(staff.operator).get(admin_url(url_name))

    assert response.status_code == 200


@pytest.mark.parametrize("model", ["members_pointsentry", "members_tierchange", "tenants_auditevent",
                                   "members_coupon", "members_memberexternalid"])
def test_ledgers_and_service_rows_are_read_only_even_for_mall_admin(admin_client_for, staff, mall_data, model):
    client = admin_client_for(staff.admin)

    add = client.get(admin_url(f"{model}_add"))

    assert add.status_code == 403


def test_points_entry_cannot_be_changed_or_deleted(admin_client_for, staff, mall_data):
    entry = mall_data.member.points_entries.get()
    client = admin_client_for(staff.admin)

    change = client.post(admin_url("members_pointsentry_change", entry.pk), {"amount": 99999})
    delete = client.post(admin_url("members_pointsentry_delete", entry.pk), {"post": "yes"})

    assert change.status_code == 403 and delete.status_code == 403
    entry.refresh_from_db()
    assert entry.amount == 2500


def test_staff_role_rules_are_form_errors(admin_client_for, staff, django_user_model):
    newcomer = django_user_model.objects.create_user("newcomer", password="x")

    response = admin_client_for(staff.admin).post(admin_url("tenants_staffrole_add"), {
        "user": newcomer.pk, "role": "brand_manager"})  # a brand manager needs a brand

    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert not hasattr(django_user_model.objects.get(pk=newcomer.pk), "staff_role")
