"""Every mall admin page renders, and the big tables never COUNT(*) their whole table."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import TierRule
from tasks.mall.models import Program, ProgramVersion
from tenants.models import AuditEvent, StaffRole

from .conftest import admin_url

# (admin url name prefix, which object of the mall_data fixture to open)
PAGES = [
    ("tenants_brand", lambda d: d.member.first_brand_id),
    ("tenants_store", lambda d: d.guide.counter.store_id),
    ("tenants_counter", lambda d: d.guide.counter_id),
    ("tenants_staffrole", lambda d: StaffRole.objects.first().pk),
    ("tenants_apiclient", lambda d: d.api_client.pk),
    ("tenants_auditevent", lambda d: AuditEvent.objects.first().pk),
    ("guides_guide", lambda d: d.guide.pk),
    ("members_member", lambda d: d.member.pk),
    ("members_memberexternalid", lambda d: d.member.external_ids.get().pk),
    ("members_tierrule", lambda d: TierRule.objects.first().pk),
    ("members_tierchange", lambda d: d.member.tier_changes.get().pk),
    ("members_pointsentry", lambda d: d.member.points_entries.get().pk),
    ("members_coupontemplate", lambda d: d.template.pk),
    ("members_coupon", lambda d: d.coupon.pk),
    ("tasks_mall_program", lambda d: Program.objects.get(is_default=True).pk),
    ("tasks_mall_programversion", lambda d: ProgramVersion.objects.get(program__is_default=True, status="published").pk),
    ("auth_user", lambda d: get_user_model().objects.get(username="ops-admin").pk),
]

BIG_TABLES = ["members_member", "members_pointsentry", "members_coupon", "tenants_auditevent",
              "members_memberexternalid", "members_tierchange", "guides_guide"]


@pytest.mark.parametrize(("page", "find"), PAGES, ids=[p for p, _ in PAGES])
def test_changelist_and_change_page_render_for_mall_admin(admin_client_for, staff, mall_data, page, find):
    client = admin_client_for(staff.admin)

    listing = client.get(admin_url(f"{page}_changelist"))
    detail = client.get(admin_url(f"{page}_change", find(mall_data)))

    assert listing.status_code == 200
    assert detail.status_code == 200


def test_admin_index_lists_every_public_model(admin_client_for, staff):
    response = admin_client_for(staff.admin).get(admin_url("index"))

    registered = {model["object_name"] for app in response.context["app_list"] for model in app["models"]}
    assert registered == {"Brand", "Store", "Counter", "StaffRole", "ApiClient", "AuditEvent", "Guide", "Member",
                          "MemberExternalId", "TierRule", "TierChange", "PointsEntry", "CouponTemplate", "Coupon",
                          "User", "CallbackEvent", "ApiCall", "CallbackRejection", "WelcomeDelivery", "Corp",
                          "CorpTag", "SyncRun",
                          "RankRule", "RewardEntry", "GuideBalance", "AttributionSettings", "ShareLink",
                          "Reward", "Redemption", "StarGuide", "Campaign",
                          "NewbieStep", "NewbieProgress", "Program", "ProgramVersion", "GroupNode", "InterestTag"}


@pytest.mark.parametrize("table", BIG_TABLES)
def test_big_changelist_never_counts_the_whole_table(admin_client_for, staff, mall_data, monkeypatch, table,
                                                     django_assert_max_num_queries):
    # Given the planner says the table holds millions of rows
    monkeypatch.setattr("scrm.pagination.estimated_table_rows", lambda name: 5_000_000)
    client = admin_client_for(staff.admin)
    client.get(admin_url("index"))  # session and role lookups warmed up

    # When the changelist is opened
    with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(12):
        response = client.get(admin_url(f"{table}_changelist"))

    # Then it shows the estimate and never ran COUNT(*) over the whole table
    assert response.status_code == 200
    assert response.context["cl"].result_count == 5_000_000
    whole_table_counts = [q["sql"] for q in queries.captured_queries
                          if "COUNT(" in q["sql"].upper() and "WHERE" not in q["sql"].upper()]
    assert whole_table_counts == []


def test_filtered_big_changelist_counts_only_the_matches(admin_client_for, staff, mall_data, monkeypatch):
    monkeypatch.setattr("scrm.pagination.estimated_table_rows", lambda name: 5_000_000)

    response = admin_client_for(staff.admin).get(admin_url("members_pointsentry_changelist"),
                                                 {"member": mall_data.member.pk})

    assert response.context["cl"].result_count == 1


def test_member_list_shows_only_the_masked_phone(admin_client_for, staff, mall_data):
    client = admin_client_for(staff.admin)

    listing = client.get(admin_url("members_member_changelist")).content.decode()
    detail = client.get(admin_url("members_member_change", mall_data.member.pk)).content.decode()

    assert "138****8000" in listing and "138****8000" in detail
    assert "13800138000" not in listing and "13800138000" not in detail
    assert mall_data.member.phone_encrypted not in detail


def test_brand_changelist_shows_member_count_per_brand(admin_client_for, staff, mall_data, brand_a, brand_b):
    from tenants.admin import brand_member_counts

    response = admin_client_for(staff.admin).get(admin_url("tenants_brand_changelist"))

    counts = {brand.slug: brand.member_count for brand in response.context["cl"].result_list}
    assert counts == {"lancome": 2, "nike": 0}
    assert brand_member_counts([brand_a.schema_name, brand_b.schema_name]) == {
        brand_a.schema_name: 2, brand_b.schema_name: 0}


def test_filtered_count_stops_at_the_cap(admin_client_for, staff, mall_data, monkeypatch):
    from tenants.admin import BigTablePaginator

    monkeypatch.setattr(BigTablePaginator, "count_cap", 1)  # both members match the filter below

    with CaptureQueriesContext(connection) as queries:
        response = admin_client_for(staff.admin).get(admin_url("members_member_changelist"),
                                                     {"gender__exact": "unknown"})

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert response.context["cl"].result_count == 1
    assert counts and all("LIMIT 1" in sql for sql in counts)
