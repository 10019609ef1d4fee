"""Member search stays index-friendly; points are adjusted through the service, once per form."""

from __future__ import annotations

import pytest

from members.models import PointsEntry

from .conftest import admin_url


def _found(client, term: str) -> list[str]:
    response = client.get(admin_url("members_member_changelist"), {"q": term})
    assert response.status_code == 200
    return sorted(member.name for member in response.context["cl"].result_list)


@pytest.mark.parametrize(("term", "names"), [
    ("code", ["王丽娜"]),             # exact member code
    ("138 0013 8000", ["王丽娜"]),    # exact phone, any spacing, through the keyed hash
    ("+8613900139000", ["李王芳"]),
    ("王", ["王丽娜"]),                # name prefix (surname first)
    ("李王", ["李王芳"]),
    ("丽娜", []),                      # not a prefix: no icontains scan over millions of rows
    ("13800000000", []),              # a well-formed phone nobody has
])
def test_member_search_by_code_phone_or_name_prefix(admin_client_for, staff, mall_data, term, names):
    term = mall_data.member.code if term == "code" else term

    assert _found(admin_client_for(staff.analyst), term) == names


def test_member_search_sql_has_no_contains_scan(admin_client_for, staff, mall_data):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        admin_client_for(staff.admin).get(admin_url("members_member_changelist"), {"q": "王"})

    member_sql = [q["sql"] for q in queries.captured_queries if 'FROM "members_member"' in q["sql"]]
    assert member_sql and all("UPPER(" not in sql and "LIKE '%" not in sql for sql in member_sql)


def _open_form(client, member):
    page = client.get(admin_url("members_member_points_adjust", member.pk))
    assert page.status_code == 200
    return page.context["form"].initial["submission"]


def test_points_adjust_double_submit_credits_once(admin_client_for, staff, mall_data):
    client = admin_client_for(staff.operator)
    member = mall_data.member
    url = admin_url("members_member_points_adjust", member.pk)
    form = {"amount": 300, "reason": "补录小票 missing receipt", "submission": _open_form(client, member)}

    first = client.post(url, form)
    second = client.post(url, form, follow=True)

    member.refresh_from_db()
    assert first.status_code == 302 and second.status_code == 200
    assert member.points_balance == 2500 + 300
    entry = PointsEntry.objects.get(member=member, kind="adjust")
    assert (entry.amount, entry.actor) == (300, f"user:{staff.operator.pk}")
    assert any("already recorded" in str(m) for m in second.context["messages"])


def test_each_opened_form_is_its_own_adjustment(admin_client_for, staff, mall_data):
    client = admin_client_for(staff.admin)
    member = mall_data.member
    url = admin_url("members_member_points_adjust", member.pk)

    for _ in range(2):
        client.post(url, {"amount": 100, "reason": "活动补偿", "submission": _open_form(client, member)})

    member.refresh_from_db()
    assert member.points_balance == 2500 + 200


def test_points_adjust_beyond_the_balance_is_a_form_error(admin_client_for, staff, mall_data):
    client = admin_client_for(staff.admin)
    member = mall_data.member
    url = admin_url("members_member_points_adjust", member.pk)

    response = client.post(url, {"amount": -99999, "reason": "扣回", "submission": _open_form(client, member)})

    member.refresh_from_db()
    assert response.status_code == 200 and response.context["form"].errors["amount"]
    assert member.points_balance == 2500 and not PointsEntry.objects.filter(kind="adjust").exists()


@pytest.mark.parametrize(("form", "field"), [
    ({"amount": 0, "reason": "x"}, "amount"),
    ({"amount": 10, "reason": ""}, "reason"),
    ({"amount": 10, "reason": "x", "submission": "forged"}, "submission"),
])
def test_points_adjust_rejects_bad_input(admin_client_for, staff, mall_data, form, field):
    client = admin_client_for(staff.admin)
    data = {"submission": _open_form(client, mall_data.member), **form}

    response = client.post(admin_url("members_member_points_adjust", mall_data.member.pk), data)

    assert field in response.context["form"].errors
    assert not PointsEntry.objects.filter(kind="adjust").exists()


def test_member_change_writes_only_the_changed_fields(admin_client_for, staff, mall_data, monkeypatch):
    """A points entry landing while the admin saves the member's name is not undone."""
    from members.admin import MemberAdmin
    from members.models import Member
    from members.services import points_earn

    member = mall_data.member
    save_form = MemberAdmin.save_form

    def save_form_meanwhile(self, request, form, change):
        points_earn(member=member, amount=50, idempotency_key="test:meanwhile")  # the form holds 2500
        return save_form(self, request, form, change)

    monkeypatch.setattr(MemberAdmin, "save_form", save_form_meanwhile)

    response = admin_client_for(staff.operator).post(admin_url("members_member_change", member.pk), {
        "name": "王丽娜娜", "gender": "female", "birthday": "", "marketing_consent": "on",
        "external_ids-TOTAL_FORMS": 1, "external_ids-INITIAL_FORMS": 1, "external_ids-MIN_NUM_FORMS": 0,
        "external_ids-MAX_NUM_FORMS": 1000, "external_ids-0-id": member.external_ids.get().pk,
        "external_ids-0-member": member.pk})

    assert response.status_code == 302
    assert Member.objects.values_list("name", "points_balance").get(pk=member.pk) == ("王丽娜娜", 2550)


@pytest.mark.parametrize(("url_name", "term", "expected"), [
    ("members_memberexternalid_changelist", "wmADMINTEST000000000001", 1),               # default corp
    ("members_memberexternalid_changelist", "ww-demo-mall:wmADMINTEST000000000001", 1),  # corp:userid
    ("members_memberexternalid_changelist", "ww-other:wmADMINTEST000000000001", 0),
    ("members_pointsentry_changelist", "test:earn:1", 1),                                # idempotency key
    ("members_pointsentry_changelist", "王丽", 1),                                        # member name prefix
    ("members_coupon_changelist", "coupon", 1),                                          # coupon code
    ("tenants_auditevent_changelist", "coupon.issued", 1),                               # exact action
])
def test_ledger_searches_use_exact_keys(admin_client_for, staff, mall_data, url_name, term, expected):
    term = mall_data.coupon.code if term == "coupon" else term

    response = admin_client_for(staff.analyst).get(admin_url(url_name), {"q": term})

    assert len(response.context["cl"].result_list) == expected
